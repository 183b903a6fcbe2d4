"""Recipes of stages and the engines that run them.

- `recipe`: a YAML recipe read and checked.
- `run`: `run_recipe`, the stages in order, locally.
- `ray_engine`: the key-frame stage as a Ray Data pipeline.

May import every stage package and the shared modules; only the CLI imports it.
"""
