"""Exports of the validated records to the formats training code reads.

- `swift`: ms-swift `messages`/`videos` JSONL with absolute local frame paths
  (`run_export_swift`), optionally key frames only, optionally one file per split.
- `config`: its parameters (`SwiftExportConfig`), from which the command's options come.

May import the shared top-level modules, `keyframes.store` (it reads key-frame files) and
`shards.plan` / `shards.config` (the split rule and its parameter, so its split files hold
the same videos as the shards).
"""
