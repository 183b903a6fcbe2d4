"""Stage 5, statistics: redundancy of the key-frame output at any threshold, and counts and
distributions of a downloaded dataset.

- `redundancy`: `redundancy_stats`, the DTD sweep over stored scores.
- `dataset`: `dataset_stats`, counts and distributions per source.
- `plots`: the figures of both.

May import the shared top-level modules and `keyframes.store` / `keyframes.dtd` (it reads
key-frame files); no other stage.
"""
