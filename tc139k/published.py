"""Figures published by the TimeChat-Online authors, in one place: defaults and reports cite
them from here (see the paper and the dataset card for their sources)."""

KEYFRAMES_PER_VIDEO = 87.8  # mean key frames per video of TimeChat-Online-139K
KEYFRAME_INTERVAL_SECONDS = 7.14  # mean interval between key frames, s
# DTD on fine-tuned Qwen2.5-VL visual tokens: (tau, share of visual tokens dropped)
AUTHORS_DROP_CURVE = ((0.7, 0.25), (0.6, 0.33), (0.5, 0.45), (0.4, 0.59), (0.3, 0.75), (0.2, 0.89))
