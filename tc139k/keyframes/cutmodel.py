"""How the combined scene rule weighs its evidence: a logistic model over 20 physical figures.

For a candidate cut at frame t, `scenes.cut_features` measures how much one frame is explained
by another under camera motion (`motion.PAIR_FIGURES`: common shift, local shifts, cells unchanged in
place, key points under one affine motion, palette; each on a 0..1 scale) for four pairs (GROUPS):

- now:      t - 1 -> t      (explained: no cut)
- two_back: t - 2 -> t      (an object crossing in two steps; a boundary seen twice)
- before:   t - 2 -> t - 1  (steady before: a cut is a step between steady stretches,
- after:    t -> t + 1       and steady after; a whip pan or a flight at speed never settles)

P(cut) = sigmoid(bias + sum(weight * figure)); t is a cut when P >= CUT_PROBABILITY. The signs
are the physics and are held in the fit: a figure of `now` or `two_back` (t explained) can
only speak against a cut, one of `before` or `after` (steady surroundings) only for it; a
figure whose free weight comes out with the other sign gets 0. Measured and left out: a
return test (t - 1 against the best of t + 1..t + 3: a flash, an object passing for seconds)
lowered the leave-one-clip-out F1 (0.875 against 0.892, with key points on 224 px frames):
a true cut followed by a cut back (a reaction shot) looks the same; flashes are handled as
transitions (transitions.py) instead.

The weights were fitted by sign-constrained, L2-regularised logistic regression on the candidates of the tuning
half of the scene-cut corpus only (scripts/scenecorpus/clips.json, split by clip id; the
held-out half never takes part), frames within 1 s of a gradual transition left out:

    .venv/bin/python scripts/scenecorpus/fit_cut_model.py --write

which also prints the leave-one-clip-out figures on the tuning half and rewrites the block
below. MEANS are the figures' means over the fitting set: a switched-off piece of evidence
(scenes.Checks) takes its mean, i.e. says nothing either way.
"""

from __future__ import annotations

import numpy as np

GROUPS = ("now", "two_back", "before", "after")
CUT_PROBABILITY = 0.5

# BEGIN FITTED (scripts/scenecorpus/fit_cut_model.py --write)
# 215 candidates of the tuning half, 34 of them cuts; L2 weight 0.1
WEIGHTS = np.array(
    [
        -0.3767,
        -0.3869,
        -1.6293,
        -4.1306,
        -5.1979,
        -1.3497,
        0.0000,
        -2.2617,
        -1.8731,
        -3.3499,
        0.5706,
        1.2960,
        2.7253,
        0.9440,
        2.0356,
        0.0000,
        0.9349,
        3.2730,
        0.2923,
        2.8864,
    ]
)
BIAS = -0.8900
MEANS = np.array(
    [
        0.3585,
        0.5493,
        0.0675,
        0.4503,
        0.8114,
        0.3137,
        0.4577,
        0.0490,
        0.3708,
        0.7646,
        0.5180,
        0.6647,
        0.1424,
        0.5573,
        0.8508,
        0.5028,
        0.6688,
        0.1435,
        0.5591,
        0.8606,
    ]
)
# END FITTED


def probability(features: np.ndarray, neutral: list[int] | tuple[int, ...] = ()) -> float:
    """P(cut) for one candidate's `scenes.cut_features`; columns in `neutral` take their mean."""
    x = np.asarray(features, dtype=np.float64).copy()
    if len(neutral):
        x[list(neutral)] = MEANS[list(neutral)]
    unknown = np.isnan(x)
    x[unknown] = MEANS[unknown]
    z = BIAS + float(WEIGHTS @ x)
    return float(1.0 / (1.0 + np.exp(-z)))
