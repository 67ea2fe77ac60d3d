"""RMSNorm: scale each vector to unit root-mean-square, then by a learned weight.

Unlike LayerNorm it neither subtracts the mean nor adds a bias: one reduction instead of
two, and it works as well in practice (Zhang & Sennrich, 2019). Computed in float32 so
that bf16 activations do not lose the tiny mean-square of small vectors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def _norm(self, x: torch.Tensor) -> torch.Tensor:
        # x * rsqrt(mean(x^2) + eps) as one PyTorch op: the same numbers, fewer passes over x (and in backward)
        return F.rms_norm(x, (x.shape[-1],), eps=self.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalize in float32, cast back, then apply the weight (MiniMind2's order).
        return self.weight * self._norm(x.to(torch.promote_types(x.dtype, torch.float32))).type_as(x)
