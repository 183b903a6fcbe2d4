"""Stage 2, validate: QA annotation files checked against versioned pyarrow schemas; valid
records to a normalised Parquet table, every other one to a quarantine file with its reasons.

- `fast`: the vectorised accept path for records in the usual shape.
- `exact`: the checker that names every problem of a record the fast path did not accept.
- `arrowbuild`: Arrow columns built from byte buffers.
- `worker`: the worker processes for large inputs.
- `run`: `run_validate`, the stage itself, and its report.

May import the shared top-level modules; no other stage.
"""
