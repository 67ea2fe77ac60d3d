"""Seeded inputs for the cases, and copies of them, so a learner's in-place edit cannot change the oracle's."""

from __future__ import annotations

from typing import Any

import torch

DTYPE_TOLERANCE = {torch.float32: (1e-5, 1e-4), torch.bfloat16: (3e-2, 3e-2), torch.float64: (1e-9, 1e-7)}


def randn(*shape: int, seed: int, dtype: torch.dtype = torch.float32, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g) * scale).to(dtype)


def cloned(args: tuple[Any, ...]) -> tuple[Any, ...]:
    def copy(a: Any) -> Any:
        if isinstance(a, torch.Tensor):
            return a.detach().clone().requires_grad_(a.requires_grad)
        if isinstance(a, list):
            return [copy(x) for x in a]
        return a

    return tuple(copy(a) for a in args)


def tolerance(dtype: torch.dtype) -> dict[str, float]:
    atol, rtol = DTYPE_TOLERANCE[dtype]
    return {"atol": atol, "rtol": rtol}
