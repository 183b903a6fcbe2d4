"""Fetch the corpus's source videos into a media folder outside the project, verified.

    python scripts/scenecorpus/build.py [--media DIR] [--mirrors DIR]

Each clip's source is `repo@commit:path` with its sha256 (clips.json). With `--mirrors DIR`,
bare git directories named `owner+name[...]` under DIR are read first (`git show
commit:path`); otherwise the repository is fetched from GitHub (`git clone --filter=blob:none
--no-checkout`, then the one blob). A file whose sha256 differs is refused. The media stay out
of the project and of every package: their licences allow testing at most.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import CLIPS, DEFAULT_MEDIA, load_clips  # noqa: E402


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_show(git_dir: Path, commit: str, path: str, out: Path) -> bool:
    tmp = out.with_suffix(out.suffix + ".part")
    with open(tmp, "wb") as f:
        r = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{commit}:{path}"], stdout=f)
    if r.returncode != 0:
        tmp.unlink(missing_ok=True)
        return False
    tmp.replace(out)
    return True


def mirror_dirs(mirrors: Path | None, repo: str) -> list[Path]:
    if mirrors is None or not mirrors.is_dir():
        return []
    prefix = repo.replace("/", "+")
    return sorted(p for p in mirrors.iterdir() if p.name.startswith(prefix))


def find_git_dirs(root: Path) -> list[Path]:
    return [p.parent for p in root.rglob("HEAD") if (p.parent / "objects").is_dir()]


def fetch_one(clip, media: Path, mirrors: Path | None) -> str:
    out = clip.media_path(media)
    if out.is_file() and sha256(out) == clip.sha256:
        return "present"
    out.parent.mkdir(parents=True, exist_ok=True)
    for top in mirror_dirs(mirrors, clip.repo):
        for git_dir in find_git_dirs(top):
            if git_show(git_dir, clip.commit, clip.path, out) and sha256(out) == clip.sha256:
                return f"from {git_dir}"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"https://github.com/{clip.repo}.git"
        r = subprocess.run(["git", "clone", "--quiet", "--bare", "--filter=blob:none", url, tmp], capture_output=True)
        if r.returncode == 0 and git_show(Path(tmp), clip.commit, clip.path, out) and sha256(out) == clip.sha256:
            return f"from {url}"
    out.unlink(missing_ok=True)
    return "MISSING (no mirror holds it and GitHub could not be reached, or its sha256 differs)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--media", type=Path, default=DEFAULT_MEDIA, help=f"Where the media go [default: {DEFAULT_MEDIA}].")
    ap.add_argument("--mirrors", type=Path, default=None, help="Folder of bare git directories (owner+name...).")
    ap.add_argument("--clips", type=Path, default=CLIPS)
    args = ap.parse_args()
    missing = 0
    for clip in load_clips(args.clips):
        status = fetch_one(clip, args.media, args.mirrors)
        missing += status.startswith("MISSING")
        print(f"{clip.id:<40} {status}")
    print(f"{missing} missing" if missing else "all present")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
