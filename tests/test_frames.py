"""Frame sources: JPEG folders (with bad frames), video files through decord, background decoding."""

from __future__ import annotations

import shutil
import threading
import time

import numpy as np
import pytest

from tc139k.errors import UsageError
from tc139k.keyframes.frames import (
    decode,
    list_frame_videos,
    one_fps_positions,
    ordered_map,
    read_jpeg,
    read_video_ids,
    video_file_specs,
)

SIZE = (64, 48)


def write_video(path, n_frames: int, fps: int, size=(96, 64)) -> None:
    """An mp4v file whose frames tell which source frame they are: the left half's grey level
    gives the frame's phase within its second (i % fps, 60 levels apart), the right half's
    gives the second (i // fps, 20 levels apart)."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), size)
    assert writer.isOpened()
    w, h = size
    for i in range(n_frames):
        img = np.empty((h, w, 3), dtype=np.uint8)
        img[:, : w // 2] = 30 + 60 * (i % fps)
        img[:, w // 2 :] = 20 + 20 * (i // fps)
        writer.write(img)
    writer.release()


def test_frame_folder_seconds_are_indices(sample):
    spec = list_frame_videos(sample.frames)[0]
    video = decode(spec, SIZE)
    n = sample.truth[spec.video_id]["n_frames"]
    assert video.ok and video.bad_frames == []
    assert video.frames.shape == (n, SIZE[1], SIZE[0], 3) and video.frames.dtype == np.uint8
    assert video.seconds.tolist() == [float(i) for i in range(n)]


def test_corrupt_and_missing_frames_are_reported_and_the_video_carries_on(sample, tmp_path):
    spec = list_frame_videos(sample.frames)[0]
    root = tmp_path / "frames"
    folder = root / spec.source / spec.video_id
    shutil.copytree(spec.path, folder)
    jpeg = (folder / "000005.jpg").read_bytes()
    (folder / "000005.jpg").write_bytes(jpeg[: len(jpeg) // 3])  # truncated
    (folder / "000009.jpg").write_bytes(b"not a jpeg at all")
    (folder / "000012.jpg").unlink()  # a hole in the sequence
    video = decode(list_frame_videos(root)[0], SIZE)
    n = sample.truth[spec.video_id]["n_frames"]
    assert video.ok and video.n_frames == n - 3
    bad = {b.index: b for b in video.bad_frames}
    assert sorted(bad) == [5, 9, 12]
    assert bad[5].path == f"{spec.source}/{spec.video_id}/000005.jpg"
    assert bad[5].reason.startswith("unreadable image")
    assert bad[9].reason.startswith("unreadable image")
    assert bad[12].reason == "missing"
    assert 5.0 not in video.seconds and 6.0 in video.seconds


def test_video_without_a_usable_frame_gets_an_error(tmp_path):
    folder = tmp_path / "frames" / "src" / "vid"
    folder.mkdir(parents=True)
    (folder / "000000.jpg").write_bytes(b"\xff\xd8garbage")
    video = decode(list_frame_videos(tmp_path / "frames")[0], SIZE)
    assert not video.ok and "no usable frame" in video.error
    assert video.n_frames == 0 and len(video.bad_frames) == 1


def _gradient(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x + y) * 127 // (w + h)], axis=-1).astype(np.uint8)


@pytest.mark.parametrize("h, w", [(700, 900), (120, 160), (48, 64), (300, 100)])
def test_read_jpeg_gives_rgb_of_the_working_size_as_pil_does(tmp_path, h, w):
    """OpenCV reads the frame (a large one at a reduced DCT scale, as PIL's draft did): the
    same picture, RGB order, at the working size, within JPEG and resampling differences."""
    from PIL import Image

    path = tmp_path / "000000.jpg"
    Image.fromarray(_gradient(h, w)).save(path, quality=95)
    got = read_jpeg(path, SIZE)
    assert got.shape == (SIZE[1], SIZE[0], 3) and got.dtype == np.uint8 and got.flags.writeable
    with Image.open(path) as im:
        im.draft("RGB", SIZE)
        want = np.asarray(im.convert("RGB").resize(SIZE, Image.Resampling.BILINEAR), dtype=np.int16)
    assert np.abs(got.astype(np.int16) - want).mean() < 3.0
    assert got[..., 0].mean() > got[..., 2].mean()  # red (x) above blue: not BGR


def test_read_jpeg_of_a_bad_file_raises_naming_it(tmp_path, sample):
    """OpenCV returns None instead of raising, and fills a cut JPEG with grey: both are errors."""
    from PIL import Image

    good = next(sample.frames.glob("*/*/000000.jpg")).read_bytes()
    cases = {
        "000001.jpg": b"",
        "000002.jpg": good[: len(good) // 2],
        "000003.jpg": b"not a jpeg at all",
        "000004.jpg": b"\xff\xd8garbage",
        "000005.jpg": good[:2] + b"\x00" * 200 + good[-2:],
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(Exception, match=name):
            read_jpeg(tmp_path / name, SIZE)
    Image.fromarray(_gradient(48, 64)).save(tmp_path / "000006.jpg", format="PNG")  # not a JPEG, but an image
    assert read_jpeg(tmp_path / "000006.jpg", SIZE).shape == (SIZE[1], SIZE[0], 3)


def test_decord_samples_one_frame_per_second_from_decoder_timestamps(tmp_path):
    path = tmp_path / "clips" / "clip01.mp4"
    path.parent.mkdir()
    write_video(path, n_frames=40, fps=4)  # 10 s at 4 fps
    [spec] = video_file_specs([path])
    assert (spec.source, spec.video_id) == ("clips", "clip01")
    video = decode(spec, SIZE)
    assert video.ok and video.bad_frames == []
    assert video.seconds.tolist() == [float(k) for k in range(10)]
    assert video.frames.shape == (10, SIZE[1], SIZE[0], 3)
    w = SIZE[0]
    left = video.frames[:, :, : w // 2 - 8].reshape(10, -1).mean(axis=1)
    right = video.frames[:, :, w // 2 + 8 :].reshape(10, -1).mean(axis=1)
    phase = np.rint((left - 30) / 60).astype(int)
    second = np.rint((right - 20) / 20).astype(int)
    assert phase.tolist() == [0] * 10  # the frame that starts each second, not a later one
    assert second.tolist() == list(range(10))


def test_one_fps_positions_follow_the_timestamps():
    ntsc = np.arange(300) / 29.97  # 10 s at 29.97 fps
    pos = one_fps_positions(ntsc)
    assert len(pos) == 10
    assert np.abs(ntsc[pos] - np.arange(10)).max() <= 0.5 / 29.97 + 1e-9
    slow = np.arange(5) * 2.0  # 0.5 fps: one frame serves two seconds, kept once
    assert one_fps_positions(slow).tolist() == [0, 1, 2, 3, 4]
    assert one_fps_positions(np.zeros(0)).tolist() == []


def test_unreadable_video_file_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "v" / "broken.mp4"
    path.parent.mkdir()
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200)
    video = decode(video_file_specs([path])[0], SIZE)
    assert not video.ok and "broken.mp4" in video.error


def test_video_ids_file(tmp_path, sample):
    ids = tmp_path / "ids.txt"
    [vic] = sample.shortest(1, source="videoic")
    [yc] = sample.shortest(1, source="youcook2")
    bare = vic.split("/")[1]  # an id without its source is looked up in every source
    ids.write_text(f"# chosen videos\n{bare}\n\n{yc}\n")
    assert read_video_ids(ids) == [(None, bare), tuple(yc.split("/"))]
    specs = list_frame_videos(sample.frames, read_video_ids(ids))
    assert [s.key for s in specs] == [vic, yc]
    ids.write_text("ok_id\na/b/c\n")
    with pytest.raises(UsageError, match=r"ids.txt:2"):
        read_video_ids(ids)
    ids.write_text("no_such_video\n")
    with pytest.raises(UsageError, match="no_such_video"):
        list_frame_videos(sample.frames, read_video_ids(ids))


def test_ordered_map_keeps_order_and_bounds_work_in_flight():
    pulled = []
    active = []
    peak = [0]
    lock = threading.Lock()

    def items():
        for i in range(30):
            pulled.append(i)
            yield i

    def work(i):
        with lock:
            active.append(i)
            peak[0] = max(peak[0], len(active))
        time.sleep(0.002 * (i % 3))
        with lock:
            active.remove(i)
        return i * i

    out = []
    for k, r in enumerate(ordered_map(work, items(), workers=3, max_in_flight=4)):
        out.append(r)
        assert len(pulled) <= k + 1 + 4  # never more than 4 items ahead of the consumer
    assert out == [i * i for i in range(30)]
    assert peak[0] <= 3
