"""Which files `tc139k validate` (and a recipe's validate stage) checks.

A download folder holds three kinds of JSON Lines files; only one is TimeChat-Online-139K QA:

- `time_chat_online_139k_train_flt.jsonl` (and any other top-level QA file): checked;
- `annotations_caption_flt.jsonl`: key-frame captions, another layout (read by
  `tc139k keyframes compare`): skipped;
- `OtherTrainingDataset/*.jsonl`: the other corpora the authors trained with (LLaVA-Video,
  Tarsier2, VideoChat-Flash), whose `videos` are video files, not lists of 1 fps frames;
  another format, out of this toolkit's scope: skipped unless asked for (every record would
  be rejected as `wrong_type`).

`choose_qa_files(paths, include_other=False)` expands folders to their top-level QA files and
returns the files to check and the skipped ones, each with the reason to tell the user.
`frames_beside(paths)` is the frames/ folder of a download folder given among them, the
frames root to check against when none is named.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..layout import is_frames_root

OTHER_DIR = "OtherTrainingDataset"
CAPTION_FILE = "annotations_caption_flt.jsonl"
OTHER_REASON = (
    f"{OTHER_DIR}/ holds the other corpora the authors trained with, whose `videos` are video files, not "
    "1 fps frame lists: another format, out of scope"
)
CAPTION_REASON = "key-frame captions, not QA records (`tc139k keyframes compare` reads them)"


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


def is_other_training(path: str | Path) -> bool:
    return OTHER_DIR in Path(path).parts


def choose_qa_files(paths, include_other: bool = False) -> tuple[list[Path], list[Skipped]]:
    """The QA files among `paths` (a folder stands for its top-level *.jsonl files) and the
    skipped files with their reasons. Raises UsageError when a folder holds no JSONL file or
    nothing is left to check."""
    chosen: list[Path] = []
    skipped: list[Skipped] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.glob("*.jsonl") if f.is_file())
            if not found:
                raise UsageError(f"{p} holds no *.jsonl file; give the QA file or the download folder")
            for f in found:
                if f.name == CAPTION_FILE:
                    skipped.append(Skipped(f, CAPTION_REASON))
                else:
                    chosen.append(f)
            other = sorted((p / OTHER_DIR).glob("*.jsonl"))
            if include_other:
                chosen += other
            else:
                skipped += [Skipped(f, OTHER_REASON) for f in other]
        elif is_other_training(p) and not include_other:
            skipped.append(Skipped(p, OTHER_REASON))
        else:
            chosen.append(p)
    if not chosen:
        raise UsageError(
            "nothing to validate: "
            + "; ".join(f"{s.path} skipped ({s.reason})" for s in skipped[:3])
            + ("; --include-other checks OtherTrainingDataset files anyway" if skipped else "")
        )
    return chosen, skipped


def frames_beside(paths) -> Path | None:
    """`DATA/frames` when a download folder DATA among `paths` holds frames there, else None."""
    for p in map(Path, paths):
        if p.is_dir() and is_frames_root(p / "frames"):
            return p / "frames"
    return None
