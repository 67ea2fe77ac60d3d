"""Measuring work so that a finding survives a busy machine.

A timing moves with whatever else the machine runs, so an experiment checks what it can count
(the tensor operations a function runs, which reductions, how often it reads a full tensor) and
reports its timings, measured fairly: the things compared run in interleaved rounds (A, B, A, B,
...) so that a burst of load falls on all of them, and the result is a median.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode


@dataclass
class Op:
    name: str  # the aten operation, e.g. 'mean', 'index_add'
    input_sizes: list[int]  # numel of each tensor argument
    output_size: int
    allocates: bool  # the output is new memory, not a view of an input (view, transpose, expand, ...)


class _Recorder(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: list[Op] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        first = out[0] if isinstance(out, (tuple, list)) and out else out
        if isinstance(first, torch.Tensor):
            inputs = [a for a in args if isinstance(a, torch.Tensor)]
            storage = first.untyped_storage().data_ptr()
            self.ops.append(Op(func.overloadpacket.__name__, [a.numel() for a in inputs], first.numel(),
                               all(a.untyped_storage().data_ptr() != storage for a in inputs)))
        return out


def recorded_ops(fn: Callable[[], Any]) -> list[Op]:
    """Every tensor operation PyTorch runs while `fn()` runs (backward included, if fn calls it)."""
    with _Recorder() as recorder:
        fn()
    return recorder.ops


def interleaved_times(fns: dict[str, Callable[[], Any]], repeats: int, warmup: int = 3,
                      clock: Callable[[], float] = time.perf_counter) -> list[dict[str, float]]:
    """Seconds of each function in each of `repeats` rounds; within a round each runs once, in turn."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    rounds = []
    for _ in range(repeats):
        times = {}
        for name, fn in fns.items():
            start = clock()
            fn()
            times[name] = clock() - start
        rounds.append(times)
    return rounds


def median_ratio(rounds: list[dict[str, float]], a: str, b: str) -> tuple[float, float, float]:
    """Median over rounds of time(a) / time(b), and the quartiles around it: a ratio per round
    cancels load that drifts from one round to the next."""
    ratios = sorted(r[a] / r[b] for r in rounds)
    return statistics.median(ratios), ratios[len(ratios) // 4], ratios[(3 * len(ratios)) // 4]


def counted_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of the matrix multiplies `fn()` runs, as torch.utils.flop_counter counts them (mm, bmm,
    addmm, ...). Kernels without a FLOP formula, such as the CPU's fused attention, count 0."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()
