"""Stage 2, validate: QA annotation files checked against versioned pyarrow schemas; valid
records to a normalised Parquet table, every other one to a quarantine file with its reasons.
The record rules themselves are shared with the other readers (tc139k.qa).

- `fast`: the vectorised accept path for records in the usual shape.
- `exact`: the checker that names every problem of a record the fast path did not accept.
- `frames`: the frames-on-disk check, and what a partial download holds (its manifest).
- `arrowbuild`: Arrow columns built from byte buffers.
- `worker`: checking one chunk, in this process or in a worker process.
- `inputs`: which files of a download folder are QA files; `config`: the stage's parameters.
- `settings`: what a worker needs to know; `run`: `run_validate`, the stage, and its report.

May import the shared top-level modules; no other stage.
"""
