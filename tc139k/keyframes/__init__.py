"""Stage 3, key frames: PySceneDetect scene cuts plus the Differential Token Drop (DTD)
redundancy scorer, key frames and trigger times per video.

- `frames`: frame folders and video files (decord) as 1 fps frame streams.
- `scenes`: scene cuts with PySceneDetect.
- `encoder`: open_clip patch tokens, GPU batches when there is one.
- `dtd`: the DTD score and the key-frame rule.
- `store`: the key-frame Parquet files and their markers.
- `build`: `run_keyframes`, the stage itself.
- `compare`: key frames or scene cuts against a reference.

May import the shared top-level modules; no other stage.
"""
