"""Stage 4, shards: Parquet shards for training, split by video, byte-for-byte reproducible,
with a dataset card that `datasets.load_dataset` reads.

- `build`: `run_shards_build` and `verify_shards`.
- `card`: the dataset card written beside the shards.

May import the shared top-level modules and `keyframes.store` / `keyframes.dtd` (it reads
key-frame files); no other stage.
"""
