"""The code examples of the documentation pages, for the tests that run them as written."""

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def training_loop(dtd: bool) -> str:
    """The one training loop of docs/training.md, with DTD masks (`dtd_tau`) or without."""
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / "training.md").read_text(), re.S)
    loops = [b for b in blocks if "DataLoader(" in b and "ClipCollator" in b and ("dtd_tau" in b) is dtd]
    assert len(loops) == 1, f"docs/training.md shows one training loop {'with' if dtd else 'without'} DTD masks"
    return loops[0]
