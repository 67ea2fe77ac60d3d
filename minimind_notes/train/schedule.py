"""Learning rate: linear warm-up, then cosine decay to min_ratio of the peak (MiniMind's
lr/10 + 0.5 * lr * (1 + cos(pi * t)) has the same shape)."""

from __future__ import annotations

import math


def lr_at(progress: float, step: int, peak: float, warmup_steps: int, min_ratio: float = 0.1) -> float:
    """progress in [0, 1]: how far through the run (by steps or by the time budget)."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = min(max(progress, 0.0), 1.0)
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
