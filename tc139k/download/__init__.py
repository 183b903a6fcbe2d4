"""Stage 1, download: the annotations and the 1 fps frame archives, from the Hugging Face Hub
or a local mirror, selectively, resumably, every file verified, split archives streamed and
extracted safely.

- `hub`: the remote repository (Hub or mirror): file listing, transfers, verification.
- `extract`: hostile-archive-safe extraction onto `frames/<source>/<video_id>/<NNNNNN>.jpg`.
- `locate`: which sources hold which video ids, from the annotations.
- `run`: `run_download`, the stage itself, and its manifest.

May import the shared top-level modules (errors, paths, atomic, progress); no other stage.
"""
