"""`tc139k shards push` with the real huggingface_hub client against tests/hubserver.py, read back
through the real client and datasets.load_dataset, compared row by row with the local shards.

hf_xet is installed, so huggingface_hub would upload through the Xet storage protocol, which
the test server does not emulate: the client's own switch HF_HUB_DISABLE_XET selects its LFS
upload path (preupload, LFS batch, PUT, verify, commit)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from envelope import result_of
from hubserver import WRITE_TOKEN as TOKEN
from hubserver import writable_hub

from tc139k.cli import main
from tc139k.keyframes.build import run_keyframes
from tc139k.shards.build import run_shards_build
from tc139k.validate.run import run_validate


@pytest.fixture(scope="module")
def built(sample, tmp_path_factory):
    root = tmp_path_factory.mktemp("push-inputs")
    run_validate([sample.qa], frames_root=sample.frames, out_dir=root / "validated")
    run_keyframes(out=root / "keyframes", frames_root=sample.frames, method="pixel", show_progress=False)
    args = (root / "validated" / "valid.parquet", root / "keyframes", sample.frames)
    out = root / "shards"
    run_shards_build(*args, out, embed_frames=True, show_progress=False)
    (out / "notes.tmp").write_text("a work file")  # never pushed, like .done/ and the quarantine
    fewer = root / "fewer"
    run_shards_build(*args, fewer, embed_frames=True, show_progress=False, min_shards=2)
    return {"shards": out, "fewer": fewer}


@pytest.fixture
def hub(monkeypatch, tmp_path):
    yield from writable_hub(monkeypatch, tmp_path)


def push(*args):
    r = CliRunner().invoke(main, ["shards", "push", *args, "--json"])
    assert TOKEN not in r.output
    return r


def local_files(shards: Path) -> dict[str, bytes]:
    manifest = json.loads((shards / "shards-manifest.json").read_text())
    out = {s["path"]: (shards / s["path"]).read_bytes() for s in manifest["shards"]}
    out["README.md"] = (shards / "README.md").read_bytes()
    return out


def read_back(hub, repo: str, revision: str, tmp_path: Path) -> Path:
    from huggingface_hub import snapshot_download

    return Path(
        snapshot_download(
            repo, repo_type="dataset", revision=revision, endpoint=hub.endpoint, cache_dir=tmp_path / "readback"
        )
    )


def rows(folder: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for p in sorted((folder / "data").glob("*.parquet")):
        out.setdefault(p.name.split("-")[0], []).extend(pq.read_table(p).to_pylist())
    return out


def test_push_then_read_back_every_row(hub, built, tmp_path):
    shards = tmp_path / "shards"
    shutil.copytree(built["shards"], shards)
    assert (shards / ".done").is_dir() and (shards / "quarantine.jsonl").is_file()
    manifest = json.loads((shards / "shards-manifest.json").read_text())
    manifest["provenance"]["frames_root"] = "/home/someone/private/frames"  # as an older build wrote
    (shards / "shards-manifest.json").write_text(json.dumps(manifest))
    r = push("me/tc139k-shards", str(shards), "--private")
    assert r.exit_code == 0, r.output
    res = result_of(r.stdout, "shards push")
    assert res["created_repo"] and res["private"] and hub.store.private["me/tc139k-shards"] is True
    assert res["committed"] and len(res["commit_id"]) == 40 and res["commit_id"] in res["commit_url"]
    assert hub.repos["me/tc139k-shards"].commit == res["commit_id"]

    got = read_back(hub, "me/tc139k-shards", res["commit_id"], tmp_path)
    pushed = sorted(p.relative_to(got).as_posix() for p in got.rglob("*") if p.is_file())
    assert pushed == sorted([*local_files(shards), "shards-manifest.json"])  # no .done/, notes.tmp, quarantine
    for path, data in local_files(shards).items():
        assert (got / path).read_bytes() == data, path
    assert rows(got) == rows(shards) and sum(map(len, rows(got).values())) == res["n_rows"] > 0
    published = json.loads((got / "shards-manifest.json").read_text())
    assert "/home/someone" not in json.dumps(published) and published["provenance"]["frames_root"] == "frames"
    assert published["shards"] == manifest["shards"]
    uploads = [e for e in hub.log if e.kind == "lfs-upload"]
    assert sorted(e.path for e in uploads) == sorted(
        __import__("hashlib").sha256(d).hexdigest() for p, d in local_files(shards).items() if p.endswith(".parquet")
    )


def test_datasets_load_dataset_reads_the_pushed_repo(hub, built, tmp_path):
    res = result_of(push("me/loadable", str(built["shards"])).stdout, "shards push")
    code = (
        "import sys, datasets\n"
        "remote = datasets.load_dataset('me/loadable', revision=sys.argv[1])\n"
        "local = datasets.load_dataset(sys.argv[2])\n"
        "assert sorted(remote) == sorted(local) == ['train', 'validation'], (remote, local)\n"
        "for split in local:\n"
        "    a, b = remote[split].data.table, local[split].data.table\n"
        "    assert a.num_rows == b.num_rows > 0 and a.equals(b), split\n"
        "print('same', {s: local[s].num_rows for s in local})\n"
    )
    env = dict(os.environ, HF_ENDPOINT=hub.endpoint, HF_HOME=str(tmp_path / "hf"), HF_DATASETS_OFFLINE="0")
    env.pop("HF_HUB_OFFLINE", None)
    proc = subprocess.run(
        [sys.executable, "-c", code, res["commit_id"], str(built["shards"])],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("same")


def test_a_second_push_sends_nothing_and_an_interrupted_one_resumes(hub, built, tmp_path):
    shards = built["shards"]
    hub.store.fail_commits = 1  # everything uploaded, then the commit fails
    r = push("me/resume", str(shards))
    assert r.exit_code == 1 and "HTTP 500" in r.output and "rerun" in r.output and "Traceback" not in r.output
    first = [e.path for e in hub.log if e.kind == "lfs-upload"]
    assert first
    hub.log.clear()
    r = push("me/resume", str(shards))
    assert r.exit_code == 0, r.output
    assert [e for e in hub.log if e.kind == "lfs-upload"] == []  # the objects were already there
    commit = result_of(r.stdout, "shards push")["commit_id"]
    hub.log.clear()
    again = result_of(push("me/resume", str(shards)).stdout, "shards push")
    assert not again["committed"] and again["commit_id"] == commit
    assert len(again["unchanged"]) == len(again["files"])
    assert [e.kind for e in hub.log if e.kind in ("lfs-upload", "commit")] == []


def test_fewer_shards_replace_the_old_ones(hub, built, tmp_path):
    push("me/rebuilt", str(built["shards"]))
    r = push("me/rebuilt", str(built["fewer"]))
    assert r.exit_code == 0, r.output
    res = result_of(r.stdout, "shards push")
    old = {p for p in local_files(built["shards"]) if p.startswith("data/")}
    new = {p for p in local_files(built["fewer"]) if p.startswith("data/")}
    assert set(res["deleted"]) == old - new and res["deleted"]
    got = read_back(hub, "me/rebuilt", res["commit_id"], tmp_path)
    assert {p.relative_to(got).as_posix() for p in (got / "data").iterdir()} == new
    assert rows(got) == rows(built["fewer"])


def test_branch_and_pull_request(hub, built, tmp_path):
    r = CliRunner().invoke(main, ["shards", "push", "me/branched", str(built["shards"]), "--revision", "dev"])
    assert r.exit_code == 0, r.output
    assert "Pushed " in r.output and "commit:" in r.output and "(dev)" in r.output
    commit = r.output.split("commit:")[1].split()[0]
    assert hub.store.refs[("me/branched", "dev")].commit == commit
    assert hub.repos["me/branched"].files == {}  # main untouched
    res = result_of(push("me/prs", str(built["shards"]), "--create-pr").stdout, "shards push")
    assert res["pr_url"].endswith("/datasets/me/prs/discussions/1")
    assert hub.repos["me/prs"].files == {} and hub.store.refs[("me/prs", "refs/pr/1")].commit == res["commit_id"]
    got = read_back(hub, "me/prs", "refs/pr/1", tmp_path)
    assert rows(got) == rows(built["shards"])


def test_refusals_are_clear(hub, built, tmp_path, monkeypatch):
    r = push("no-owner", str(built["shards"]))
    assert r.exit_code == 2 and "OWNER/NAME" in r.output
    damaged = tmp_path / "damaged"
    shutil.copytree(built["shards"], damaged)
    victim = sorted((damaged / "data").glob("*.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    r = push("me/x", str(damaged))
    assert r.exit_code == 1 and "does not verify" in r.output and victim.name in r.output
    assert hub.log == []  # refused before any request
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_token_abcdefghijkl")
    r = push("me/x", str(built["shards"]))
    assert r.exit_code == 1 and "HTTP 401" in r.output and "HF_TOKEN" in r.output
    assert "hf_wrong_token_abcdefghijkl" not in r.output


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("endpoint", ["refused", "http://no-such-host.invalid"])
def test_an_unreachable_hub_is_one_line_as_in_download(built, tmp_path, endpoint):
    """A refused connection or a name that does not resolve: one `Error:` line naming the
    endpoint, exit 1, in push as in download (one translation of Hub errors for every command)."""
    if endpoint == "refused":
        endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = dict(os.environ, HF_ENDPOINT=endpoint, HF_TOKEN=TOKEN, HF_HOME=str(tmp_path / "hf"), TC139K_NO_PROGRESS="1")
    env.pop("HF_HUB_OFFLINE", None)
    commands = {
        "push": ["shards", "push", "me/x", str(built["shards"])],
        "download": ["download", "--annotations-only", "--local-dir", str(tmp_path / "d"), "--timeout", "2"],
    }
    for name, args in commands.items():
        r = subprocess.run(
            [sys.executable, "-m", "tc139k", *args], capture_output=True, text=True, env=env, timeout=120
        )
        assert r.returncode == 1, (name, r.stderr[-2000:])
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert "Traceback" not in r.stderr and len(lines) == 1 and lines[0].startswith("Error: "), (name, r.stderr)
        assert f"cannot reach {endpoint}" in lines[0] and TOKEN not in r.stderr, (name, lines[0])
        if "invalid" in endpoint:
            assert "does not resolve" in lines[0], lines[0]


def test_frames_read_through_links_leaving_the_root_are_published_only_when_asked(hub, sample, tmp_path):
    """A frames root that is a copy, where one frame is a link to a JPEG elsewhere, one a link to
    another frame of the root and one a link to /etc/passwd: the last fails the frame check
    (quarantined, never embedded), the link inside the root is no concern, the link leaving it
    is counted and named, and push refuses to publish it unless asked."""
    validated = tmp_path / "validated"
    run_validate([sample.qa], frames_root=sample.frames, out_dir=validated)
    records = pq.read_table(validated / "valid.parquet").to_pylist()
    frames = tmp_path / "frames"
    shutil.copytree(sample.frames, frames)
    elsewhere = tmp_path / "elsewhere.jpg"
    by_video = {}
    for r in records:  # one record of each of three videos
        by_video.setdefault((r["source"], r["video_id"]), r)
    first, second, third = list(by_video.values())[:3]
    away, inside, passwd = first["frame_paths"][1], second["frame_paths"][1], third["frame_paths"][1]
    shutil.copy(frames / away, elsewhere)
    for rel, target in ((away, elsewhere), (inside, frames / second["frame_paths"][0]), (passwd, Path("/etc/passwd"))):
        (frames / rel).unlink()
        (frames / rel).symlink_to(target)
    run_keyframes(out=tmp_path / "kf", frames_root=frames, method="pixel", show_progress=False)
    shards = tmp_path / "shards"
    r = CliRunner().invoke(
        main,
        ["shards", "build", "--qa", str(validated / "valid.parquet"), "--keyframes", str(tmp_path / "kf")]
        + ["--frames-root", str(frames), "--out", str(shards), "--embed-frames"],
    )
    assert r.exit_code == 0, r.output
    manifest = json.loads((shards / "shards-manifest.json").read_text())
    assert manifest["frames_outside_root"] == {"count": 1, "examples": [away]}
    assert "1 embedded frame(s) were read through links leaving the frames root" in r.output
    quarantine = [json.loads(x) for x in (shards / "quarantine.jsonl").read_text().splitlines()]
    assert third["record_id"] in {q["record_id"] for q in quarantine}  # /etc/passwd is no frame
    assert b"root:" not in b"".join(p.read_bytes() for p in (shards / "data").glob("*.parquet"))

    refused = push("me/linked", str(shards))
    assert refused.exit_code == 2 and "read through links that leave the frames root" in refused.output
    assert away in refused.output and hub.log == []  # nothing was sent
    allowed = push("me/linked", str(shards), "--allow-frames-outside-root")
    assert allowed.exit_code == 0, allowed.output


def test_a_frames_root_that_is_a_link_farm_counts_every_frame(sample, tmp_path):
    """Each video folder a link to the real one elsewhere (shared storage): every embedded frame
    was read from outside the root the user named."""
    from tc139k.shards.links import OutsideRoot

    farm = tmp_path / "farm"
    for video in sorted(p for p in sample.frames.glob("*/*") if p.is_dir()):
        (farm / video.parent.name).mkdir(parents=True, exist_ok=True)
        (farm / video.parent.name / video.name).symlink_to(video)
    rels = [p.relative_to(sample.frames).as_posix() for p in sorted(sample.frames.glob("*/*/*.jpg"))[:50]]
    linked, plain = OutsideRoot(farm), OutsideRoot(sample.frames)
    linked.add(rels + rels[:5])  # a frame counted once, however many records use it
    plain.add(rels)
    assert linked.count == 50 and linked.examples == sorted(rels[:5]) and plain.count == 0


def test_a_push_with_nothing_new_says_so_once(hub, built, tmp_path):
    """huggingface_hub's own "No files have been modified" warning does not stand beside
    tc139k's "Nothing to push" (its warnings show with -v only)."""
    env = dict(os.environ, HF_ENDPOINT=hub.endpoint, HF_TOKEN=TOKEN, HF_HOME=str(tmp_path / "hf"))
    env.update(HF_HUB_DISABLE_XET="1", TC139K_NO_PROGRESS="1")
    env.pop("HF_HUB_OFFLINE", None)
    cmd = [sys.executable, "-m", "tc139k", "shards", "push", "me/again", str(built["shards"])]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert second.returncode == 0 and "Nothing to push" in second.stdout, second.stdout + second.stderr
    assert "No files have been modified" not in second.stdout + second.stderr, second.stderr
