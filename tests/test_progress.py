"""Progress bars: off means no tqdm at all; on means a real tqdm bar."""

from __future__ import annotations

import subprocess
import sys

from tc139k.progress import NoBar, progress


def test_bars_off_do_not_import_tqdm():
    code = (
        "import sys, os; os.environ['TC139K_NO_PROGRESS'] = '1'; from tc139k.progress import progress; "
        "b = progress(total=3); b.update(2); b.close(); print(type(b).__name__, 'tqdm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["NoBar", "False"]


def test_bars_on_and_off(monkeypatch):
    monkeypatch.delenv("TC139K_NO_PROGRESS", raising=False)
    assert isinstance(progress(total=3, enabled=False), NoBar)
    bar = progress(total=3, desc="x", file=sys.stderr)
    bar.update(2)
    assert bar.n == 2 and type(bar).__module__.startswith("tqdm")
    bar.close()
    monkeypatch.setenv("TC139K_NO_PROGRESS", "1")
    assert isinstance(progress(total=3), NoBar)
