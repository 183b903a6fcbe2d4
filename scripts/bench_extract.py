"""Benchmark: streaming extraction of a split frame archive against `cat parts | tar -xzf -`.

Builds a deterministic split archive (default about 210 MB of JPEG-like members: random bytes
with a skewed byte distribution, so deflate codes them with Huffman blocks like real JPEGs),
then extracts it alternately with tar and with `tc139k.download.extract.extract_frames`, and
prints the throughput of each (compressed bytes per second, median of the rounds), their
ratio, and the peak extra disk each used beyond the parts and the extracted frames (a joined copy of the
archive would show up there).

    .venv/bin/python scripts/bench_extract.py [--mb 210] [--rounds 5] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tc139k.download.extract import extract_frames  # noqa: E402
from tc139k.download.hub import ContentHasher, RemoteFile  # noqa: E402


class SplitWriter(io.RawIOBase):
    """Writes one byte stream as consecutive parts of `part_size` bytes."""

    def __init__(self, stem: Path, part_size: int):
        self.stem, self.part_size = stem, part_size
        self.paths: list[Path] = []
        self._fh = None
        self._left = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        view = memoryview(b)
        while view:
            if self._left == 0:
                if self._fh:
                    self._fh.close()
                path = Path(f"{self.stem}.{len(self.paths):03d}")
                self.paths.append(path)
                self._fh = open(path, "wb")
                self._left = self.part_size
            n = min(self._left, len(view))
            self._fh.write(view[:n])
            self._left -= n
            view = view[n:]
        return len(b)

    def close(self) -> None:
        if self._fh:
            self._fh.close()
            self._fh = None
        super().close()


def build_archive(dst: Path, target_bytes: int, part_size: int, seed: int = 0) -> tuple[list[Path], int, int]:
    """A split `Bench.tar.gz.NNN` with videos of 1 fps frames; returns parts, members, raw bytes."""
    import gzip

    rng = np.random.default_rng(seed)
    writer = SplitWriter(dst / "Bench.tar.gz", part_size)
    n_files = raw = 0
    with gzip.GzipFile(fileobj=writer, mode="wb", compresslevel=6, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            video = 0
            while raw < target_bytes:
                vid = f"v{video:07d}"
                d = tarfile.TarInfo(f"export/bench_frames/bench/{vid}")
                d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
                tar.addfile(d)
                for sec in range(int(rng.integers(60, 240))):
                    size = int(rng.integers(24_000, 72_000))
                    body = np.minimum(rng.integers(0, 280, size, dtype=np.uint16), 255).astype(np.uint8)
                    data = b"\xff\xd8\xff\xe0" + body.tobytes()[4:]
                    info = tarfile.TarInfo(f"export/bench_frames/bench/{vid}/{sec:06d}.jpg")
                    info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
                    tar.addfile(info, io.BytesIO(data))
                    n_files += 1
                    raw += len(data)
                video += 1
    writer.close()
    return writer.paths, n_files, raw


def tree_bytes(root: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(root):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


class PeakDisk:
    """Samples the bytes on disk under `root` while a block runs; keeps the peak."""

    def __init__(self, root: Path, every: float = 0.05):
        self.root, self.every, self.peak = root, every, 0
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_bytes(self.root))
            self._stop.wait(self.every)

    def __enter__(self):
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, tree_bytes(self.root))


def run_tar(parts: list[Path], out: Path) -> None:
    out.mkdir()
    cmd = "cat " + " ".join(f"'{p}'" for p in parts) + f" | tar -xzf - -C '{out}'"
    subprocess.run(["bash", "-o", "pipefail", "-c", cmd], check=True)


def run_joined(parts: list[Path], out: Path) -> None:
    out.mkdir()
    joined = out.parent / "joined.tar.gz"
    with open(joined, "wb") as fh:
        for p in parts:
            with open(p, "rb") as src:
                shutil.copyfileobj(src, fh, 1 << 22)
    subprocess.run(["tar", "-xzf", str(joined), "-C", str(out)], check=True)
    joined.unlink()


def run_ours(parts: list[Path], out: Path, hashed: bool) -> None:
    out.mkdir()
    hashers = None
    if hashed:
        hashers = [ContentHasher(RemoteFile(p.name, p.stat().st_size)) for p in parts]
    extract_frames(parts, source="bench", label=parts[0].name, local_dir=out, hashers=hashers)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=210, help="size of the archive's members in MB")
    ap.add_argument("--part-mb", type=int, default=64, help="size of each part in MB")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds per method")
    ap.add_argument("--workdir", default=None, help="where to build and extract (default: temp dir)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tc139k-bench-", dir=args.workdir))
    try:
        src = work / "parts"
        src.mkdir()
        t = time.perf_counter()
        parts, n_files, raw = build_archive(src, args.mb * 1_000_000, args.part_mb * 1_000_000)
        packed = sum(p.stat().st_size for p in parts)
        print(
            f"archive: {len(parts)} parts, {packed / 1e6:.1f} MB compressed, {n_files} members, "
            f"{raw / 1e6:.1f} MB of frames (built in {time.perf_counter() - t:.1f} s)"
        )
        for p in parts:  # same page-cache state for every method
            with open(p, "rb") as fh:
                while fh.read(1 << 24):
                    pass

        methods = {
            "tar (cat | tar -xzf -)": lambda out: run_tar(parts, out),
            "tc139k extract": lambda out: run_ours(parts, out, hashed=False),
            "tc139k extract + sha256": lambda out: run_ours(parts, out, hashed=True),
        }
        out = work / "out"
        times: dict[str, list[float]] = {m: [] for m in methods}
        for _ in range(args.rounds):  # alternating, so that load from elsewhere hits all methods
            for name, fn in methods.items():
                os.sync()  # start each run without the previous run's dirty pages
                t = time.perf_counter()
                fn(out)
                times[name].append(time.perf_counter() - t)
                got = tree_bytes(out)
                assert got >= raw, f"{name} extracted {got} bytes, less than the {raw} the archive holds"
                shutil.rmtree(out)
        extra: dict[str, int] = {}
        # control: join the parts first, as a non-streaming extractor must; the sampler sees it
        control = {"control: cat > joined; tar -xzf joined": lambda out: run_joined(parts, out)}
        for name, fn in {**methods, **control}.items():  # untimed: the sampler walks the tree
            os.sync()
            with PeakDisk(work) as peak:
                fn(out)
            extra[name] = max(peak.peak - tree_bytes(work), 0)
            shutil.rmtree(out)

        base = statistics.median(times["tar (cat | tar -xzf -)"])
        print(f"{'method':38s} {'median s':>9s} {'runs s':>30s} {'MB/s':>7s} {'vs tar':>7s} {'peak extra disk':>16s}")
        for name in methods:
            med = statistics.median(times[name])
            runs = " ".join(f"{x:.2f}" for x in times[name])
            print(
                f"{name:38s} {med:9.2f} {runs:>30s} {packed / 1e6 / med:7.1f} {base / med:7.2f} "
                f"{extra[name] / 1e6:13.1f} MB"
            )
        name = next(iter(control))
        print(f"{name:38s} {'-':>9s} {'(not timed)':>30s} {'-':>7s} {'-':>7s} {extra[name] / 1e6:13.1f} MB")
        print(
            f"MB/s: compressed input per second. Peak extra disk: bytes on disk beyond the "
            f"{packed / 1e6:.0f} MB of parts and the extracted frames, sampled every 50 ms in a "
            "separate untimed run (a joined copy of the archive would add its whole size)."
        )
        ratio = base / statistics.median(times["tc139k extract"])
        print(f"throughput ratio tc139k extract / tar: {ratio:.2f} (target >= 0.90)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
