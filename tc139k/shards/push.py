"""`tc139k shards push`: publish a shards folder as a dataset repository on the Hugging Face Hub.

Entry point: `push_shards(repo_id, shards_dir, ...) -> PushResult`.

What is uploaded: the Parquet files the shards manifest lists (after `verify_shards` checked
their hashes, row counts and schema), the dataset card `README.md`, and the manifest itself
with every absolute local path replaced by its last component. Never `.done/`, work files,
the quarantine file or anything else in the folder. Data files on the Hub under `data/`
that the local build does not have (a previous build with another shard count) are deleted
in the same commit, so that the card's `data/train-*.parquet` patterns load exactly these rows.

How: one `create_commit` through huggingface_hub (its token from `HF_TOKEN` or `hf auth login`,
`HF_ENDPOINT`, Xet storage when `hf_xet` is installed, LFS otherwise). The repository is
created when missing (`private` decides its visibility); `revision` names a branch, created
from the default branch when missing; `create_pr` opens a pull request instead of writing
to the branch. Resumable: files whose content the Hub already has at that revision are left
out of the commit, and content uploaded before an interruption is not sent again (the Hub
reports it present). The result carries the commit id and URL.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import IntegrityError, PushError, UsageError
from ..huberrors import HubErrors
from ..progress import bars_enabled, stderr_is_terminal

LOG = logging.getLogger("tc139k.shards.push")
CARD = "README.md"
MANIFEST = "shards-manifest.json"


@dataclass
class PushResult:
    repo_id: str
    endpoint: str
    revision: str | None
    created_repo: bool
    private: bool | None
    commit_id: str | None
    commit_url: str | None
    pr_url: str | None
    committed: bool = False  # False when the Hub already held every file: no commit was made
    files: list[str] = field(default_factory=list)  # every file of the push
    unchanged: list[str] = field(default_factory=list)  # already on the Hub with this content
    deleted: list[str] = field(default_factory=list)  # stale data files removed from the Hub
    bytes_total: int = 0
    rows: int = 0
    elapsed_s: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


_ABS_PATH = re.compile(r"^(/|~|[A-Za-z]:[\\/])")


def scrub_paths(obj):
    """A copy of `obj` (JSON) where every string that is an absolute local path becomes its
    last component: a published manifest must not reveal the builder's file system."""
    if isinstance(obj, dict):
        return {k: scrub_paths(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [scrub_paths(v) for v in obj]
    if isinstance(obj, str) and _ABS_PATH.match(obj):
        return re.split(r"[\\/]", obj.rstrip("/\\"))[-1]
    return obj


def files_to_push(shards_dir: Path, allow_outside: bool = False) -> tuple[list[tuple[str, Path | bytes]], int]:
    """(path in repo, local file or bytes) of what a push uploads, and the row count; refuses
    a folder whose shards do not verify, and (unless `allow_outside`) shards whose embedded
    frames were read through links leaving the frames root (tc139k.shards.links)."""
    from .build import verify_shards

    manifest_path = shards_dir / MANIFEST
    ver = verify_shards(shards_dir)  # UsageError when it is not a shards folder
    if ver.problems:
        shown = "; ".join(ver.problems[:5]) + (f"; and {len(ver.problems) - 5} more" if len(ver.problems) > 5 else "")
        raise IntegrityError(
            f"{shards_dir} does not verify ({shown}); rebuild it with `tc139k shards build` before pushing"
        )
    card = shards_dir / CARD
    if not card.is_file():
        raise UsageError(f"{card} (the dataset card) is missing; rebuild with `tc139k shards build`")
    manifest = json.loads(manifest_path.read_text())
    _check_frame_origin(manifest, manifest_path, allow_outside)
    out: list[tuple[str, Path | bytes]] = []
    for s in manifest["shards"]:
        rel = s["path"]
        if not rel.startswith("data/") or ".." in rel.split("/") or "\\" in rel:
            raise IntegrityError(f"{manifest_path} lists {rel!r}, not a file under data/; refusing to push it")
        out.append((rel, shards_dir / rel))
    out.append((CARD, card))
    published = json.dumps(scrub_paths(manifest), indent=2, sort_keys=True).encode() + b"\n"
    out.append((MANIFEST, published))
    return out, ver.rows


def _check_frame_origin(manifest: dict, manifest_path: Path, allow_outside: bool) -> None:
    if not manifest.get("embed_frames") or allow_outside:
        return
    origin = manifest.get("frames_outside_root")
    if origin is None:
        raise UsageError(
            f"{manifest_path} does not say where its embedded frames were read from (built by an older tc139k): "
            "rebuild with `tc139k shards build`, or push anyway with --allow-frames-outside-root"
        )
    if origin.get("count"):
        raise UsageError(
            f"{origin['count']} embedded frame(s) were read through links that leave the frames root (first: "
            f"{', '.join(origin.get('examples', [])[:3])}), so pushing would publish files from elsewhere on this "
            "machine: check them, then push with --allow-frames-outside-root, or rebuild from a frames root that "
            "holds the frames"
        )


def push_shards(
    repo_id: str,
    shards_dir: str | Path,
    *,
    private: bool = False,
    revision: str | None = None,
    create_pr: bool = False,
    commit_message: str | None = None,
    token: str | bool | None = None,
    endpoint: str | None = None,
    show_progress: bool = True,
    allow_frames_outside_root: bool = False,
) -> PushResult:
    """Upload a verified shards folder to the dataset repository `repo_id`. See the module docstring."""
    import os

    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from huggingface_hub import errors as hf
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    from .. import __version__

    t0 = time.perf_counter()
    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise UsageError(f"REPO_ID: {e}") from None
    if "/" not in repo_id:
        raise UsageError(f"REPO_ID {repo_id!r} needs an owner: OWNER/NAME (your user or organisation name)")
    shards_dir = Path(shards_dir).expanduser().resolve()
    items, rows = files_to_push(shards_dir, allow_frames_outside_root)
    endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
    api = HfApi(endpoint=endpoint, token=token, library_name="tc139k", library_version=__version__)
    where = f"{repo_id} on {endpoint}"
    result = PushResult(repo_id, endpoint, revision, False, None, None, None, None)
    result.files = [p for p, _ in items]
    result.bytes_total = sum(len(x) if isinstance(x, bytes) else x.stat().st_size for _, x in items)
    result.rows = rows

    quiet_hf = not (bars_enabled(show_progress) and stderr_is_terminal())
    hub_errors = HubErrors(
        "pushing",
        repo_id=repo_id,
        endpoint=endpoint,
        revision=revision,
        error=PushError,
        http_hints={412: "the branch moved while pushing: rerun"},
        login_hint="set HF_TOKEN to a token with write access",
        rerun_hint="rerun to resume: content already uploaded is not sent again",
    )
    try:
        with _hf_bars_off(quiet_hf), hub_errors:
            try:
                info = api.dataset_info(repo_id)
                result.private = bool(getattr(info, "private", False))
            except hf.RepositoryNotFoundError:
                api.create_repo(repo_id, repo_type="dataset", private=True if private else None, exist_ok=True)
                result.created_repo, result.private = True, private
                LOG.info("created the dataset repository %s (%s)", where, "private" if private else "public")
            if revision not in (None, "main") and not create_pr:
                api.create_branch(repo_id, branch=revision, repo_type="dataset", exist_ok=True)
            base = revision or "main"  # the branch written to, or the pull request's target
            remote = set(api.list_repo_files(repo_id, repo_type="dataset", revision=base))
            local = set(result.files)
            stale = sorted(p for p in remote if p.startswith("data/") and p.endswith(".parquet") and p not in local)
            ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=x) for p, x in items]
            ops += [CommitOperationDelete(path_in_repo=p) for p in stale]
            LOG.debug("pushing %d file(s), %d row(s) to %s", len(items), rows, where)
            info = api.create_commit(
                repo_id,
                ops,
                commit_message=commit_message or f"Upload {rows} rows of TimeChat-Online-139K shards (tc139k)",
                repo_type="dataset",
                revision=base,
                create_pr=create_pr,
            )
            LOG.debug("pushed: commit %s%s", info.oid, f", pull request {info.pr_url}" if info.pr_url else "")
    except (OSError, ValueError, RuntimeError) as e:  # malformed answers, a file that went away
        raise PushError(
            f"pushing to {where} failed ({e.__class__.__name__}: {e}); rerun to resume: content "
            "already uploaded is not sent again"
        ) from None
    result.unchanged = sorted(
        op.path_in_repo
        for op in ops
        if isinstance(op, CommitOperationAdd) and op._remote_oid is not None and op._remote_oid == op._local_oid
    )
    result.deleted = stale
    result.committed = len(result.unchanged) < len(result.files) or bool(stale)
    result.commit_id = info.oid
    result.commit_url = info.commit_url
    result.pr_url = info.pr_url
    result.elapsed_s = round(time.perf_counter() - t0, 3)
    return result


class _hf_bars_off:
    """huggingface_hub's own bars follow tc139k's rule: off unless progress goes to a terminal."""

    def __init__(self, off: bool):
        self.off = off
        self.was_disabled = False

    def __enter__(self):
        from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars

        self.was_disabled = are_progress_bars_disabled()
        if self.off:
            disable_progress_bars()
        return self

    def __exit__(self, *exc):
        from huggingface_hub.utils import enable_progress_bars

        if self.off and not self.was_disabled:
            enable_progress_bars()
        return False
