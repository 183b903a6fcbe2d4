"""Fit the combined scene rule's evidence weights (tc139k/keyframes/cutmodel.py) on the tuning half.

    .venv/bin/python scripts/scenecorpus/fit_cut_model.py [--media DIR] [--lam 0.03] [--write]

Only clips whose split (corpus.split_of) is "tune" are read. Each candidate frame
(scenes.candidates) of each clip is labelled: a cut when a hard cut of the truth falls in
(t - 1, t]; left out when it lies within 1 s of a gradual transition (fades and dissolves
are found by transitions.py, not by this model); otherwise no cut. The model is an
L2-regularised logistic regression (Newton steps; the bias is not penalised). Printed: the
leave-one-clip-out precision, recall and F1 at the candidate level over the tuning half, and
the fitted constants; --write puts them into cutmodel.py between its FITTED markers. A pair
that does not exist (before the first frame, after the last) takes the figure's mean.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(HERE))

from corpus import CLIPS, DEFAULT_MEDIA, decode_clip, load_clips  # noqa: E402

from tc139k.keyframes.motion import PAIR_FIGURES  # noqa: E402

MODEL = ROOT / "tc139k" / "keyframes" / "cutmodel.py"


def labelled_candidates(media: Path, clips_path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from tc139k.keyframes import cutmodel
    from tc139k.keyframes.scenes import SceneParams, _Views, candidates, cut_features

    out = {}
    for clip in load_clips(clips_path):
        if clip.split != "tune":
            continue
        frames, native = decode_clip(clip, media)
        cuts, spans = clip.truth(native)
        views = _Views(frames)
        xs, ys = [], []
        for t in candidates(views, SceneParams().resolved()):
            if any(a - 1 <= t <= b + 1 for a, b in spans):
                continue
            xs.append(cut_features(views, t))
            ys.append(float(any(t - 1 < c <= t for c in cuts)))
        out[clip.id] = (np.array(xs).reshape(-1, len(cutmodel.GROUPS) * len(PAIR_FIGURES)), np.array(ys))
    return out


def fit(x: np.ndarray, y: np.ndarray, lam: float, steps: int = 50) -> np.ndarray:
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    penalty = lam * np.r_[np.ones(x.shape[1]), 0.0]
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-xb @ w))
        grad = xb.T @ (p - y) + penalty * w
        hess = xb.T @ (xb * (p * (1 - p))[:, None]) + np.diag(penalty)
        w -= np.linalg.solve(hess, grad)
    return w


def signs() -> np.ndarray:
    """The physics: evidence that t is explained (now, two_back) can only speak
    against a cut, steadiness around it (before, after) only for it."""
    from tc139k.keyframes import cutmodel

    per_group = {"now": -1.0, "two_back": -1.0, "before": 1.0, "after": 1.0}
    return np.repeat([per_group[g] for g in cutmodel.GROUPS], len(PAIR_FIGURES))


def fit_signed(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """`fit` with every weight held to its sign in `signs()`: a weight that comes out with the
    wrong sign is fixed at 0 (the worst first) and the rest refitted."""
    sign = signs()
    free = np.ones(x.shape[1], dtype=bool)
    while True:
        w = np.zeros(x.shape[1] + 1)
        cols = np.flatnonzero(free)
        wf = fit(x[:, cols], y, lam)
        w[cols], w[-1] = wf[:-1], wf[-1]
        wrong = w[:-1] * sign < 0
        if not wrong.any():
            return w
        free[int(np.argmin(np.where(wrong, w[:-1] * sign, 0.0)))] = False


def leave_one_clip_out(data: dict, lam: float, threshold: float) -> tuple[float, float, float]:
    tp = fp = fn = 0
    for held in data:
        rest = [v for k, v in data.items() if k != held and len(v[0])]
        w = fit_signed(np.vstack([x for x, _ in rest]), np.concatenate([y for _, y in rest]), lam)
        x, y = data[held]
        if not len(x):
            continue
        p = 1.0 / (1.0 + np.exp(-(x @ w[:-1] + w[-1])))
        pred = p >= threshold
        tp += int((pred & (y == 1)).sum())
        fp += int((pred & (y == 0)).sum())
        fn += int((~pred & (y == 1)).sum())
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    return precision, recall, 2 * precision * recall / max(precision + recall, 1e-12)


def block(w: np.ndarray, means: np.ndarray, lam: float, n: int, positives: int) -> str:
    def arr(v: np.ndarray) -> str:  # laid out as ruff formats it
        return "np.array(\n    [\n" + "".join(f"        {x:.4f},\n" for x in v) + "    ]\n)"

    return (
        "# BEGIN FITTED (scripts/scenecorpus/fit_cut_model.py --write)\n"
        f"# {n} candidates of the tuning half, {positives} of them cuts; L2 weight {lam}\n"
        f"WEIGHTS = {arr(w[:-1])}\n"
        f"BIAS = {w[-1]:.4f}\n"
        f"MEANS = {arr(means)}\n"
        "# END FITTED"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--media", type=Path, default=DEFAULT_MEDIA)
    ap.add_argument("--clips", type=Path, default=CLIPS)
    ap.add_argument("--lam", type=float, default=0.1, help="L2 weight.")
    ap.add_argument("--write", action="store_true", help="Rewrite the FITTED block of cutmodel.py.")
    ap.add_argument("--sweep", action="store_true", help="Leave-one-clip-out F1 for several L2 weights.")
    args = ap.parse_args()
    from tc139k.keyframes import cutmodel

    data = labelled_candidates(args.media, args.clips)
    means = np.nanmean(np.vstack([v[0] for v in data.values() if len(v[0])]), axis=0)
    data = {k: (np.where(np.isnan(x), means, x), y) for k, (x, y) in data.items()}  # a missing pair: its mean
    x = np.vstack([v[0] for v in data.values() if len(v[0])])
    y = np.concatenate([v[1] for v in data.values() if len(v[0])])
    if args.sweep:
        for lam in (0.01, 0.03, 0.1, 0.3, 1.0, 3.0):
            print(
                f"  L2 {lam}: precision %.3f recall %.3f F1 %.3f"
                % leave_one_clip_out(data, lam, cutmodel.CUT_PROBABILITY)
            )
    p, r, f = leave_one_clip_out(data, args.lam, cutmodel.CUT_PROBABILITY)
    print(f"{len(data)} tuning clips, {len(y)} candidates, {int(y.sum())} cuts")
    print(f"leave-one-clip-out at P >= {cutmodel.CUT_PROBABILITY}: precision {p:.3f} recall {r:.3f} F1 {f:.3f}")
    w = fit_signed(x, y, args.lam)
    names = [f"{g}.{k}" for g in cutmodel.GROUPS for k in PAIR_FIGURES]
    for name, weight in zip(names + ["bias"], w):
        print(f"  {name:<20} {weight:+.3f}")
    text = block(w, means, args.lam, len(y), int(y.sum()))
    if args.write:
        src = MODEL.read_text()
        new = re.sub(r"# BEGIN FITTED.*?# END FITTED", lambda _: text, src, flags=re.S)
        MODEL.write_text(new)
        print(f"wrote {MODEL}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
