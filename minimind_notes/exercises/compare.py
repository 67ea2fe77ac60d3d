"""Expected vs got, said in a few numbers: the first index that differs, both values there, the largest gap."""

from __future__ import annotations

from typing import Any

import torch

SHOWN = 4  # numbers shown from the start of each tensor


def _plain(value: Any) -> Any:
    """A learner's list or tuple compares equal to the same items in the other kind of sequence."""
    return tuple(value) if isinstance(value, list) else value


def type_name(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


def _numbers(t: torch.Tensor) -> str:
    flat = t.detach().flatten()[:SHOWN].double().tolist()
    return "[" + ", ".join(f"{v:.5g}" for v in flat) + (", ...]" if t.numel() > SHOWN else "]")


def tensor_difference(expected: torch.Tensor, got: torch.Tensor, atol: float, rtol: float) -> str | None:
    if tuple(got.shape) != tuple(expected.shape):
        return f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
    if expected.dtype in (torch.bool, torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64) \
            and got.dtype != expected.dtype:
        return f"dtype {got.dtype}, expected {expected.dtype}"
    if expected.numel() == 0:
        return None
    e, g = expected.detach().double().cpu(), got.detach().double().cpu()
    close = torch.isclose(g, e, atol=atol, rtol=rtol, equal_nan=True)
    if bool(close.all()):
        return None
    if e.dim() == 0:
        return f"expected {e.item():.6g}, got {g.item():.6g}"
    first = tuple(int(i) for i in (~close).nonzero()[0])
    gap = (g - e).abs()[~close].max()
    return (f"values differ first at index {first}: expected {e[first].item():.6g}, got {g[first].item():.6g} "
            f"({int((~close).sum())} of {e.numel()} differ, max |diff| {gap.item():.3g}); "
            f"expected starts {_numbers(e)}, got starts {_numbers(g)}")


def has_tensor(value: Any) -> bool:
    if isinstance(value, (tuple, list)):
        return any(has_tensor(v) for v in value)
    return isinstance(value, torch.Tensor)


def difference(expected: Any, got: Any, atol: float = 1e-5, rtol: float = 1e-4, where: str = "") -> str | None:
    """None when `got` matches `expected` (tensors, numbers, tuples and lists of them); else what differs."""
    prefix = f"{where}: " if where else ""
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"{prefix}returned {type_name(got)}, expected {type_name(expected)}"
        problem = tensor_difference(expected, got, atol, rtol)
        return f"{prefix}{problem}" if problem else None
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            return f"{prefix}returned {type_name(got)}, expected a {type(expected).__name__} of {len(expected)}"
        if len(got) != len(expected):
            return f"{prefix}returned {len(got)} items, expected {len(expected)}"
        if not has_tensor(expected):  # a list of ids, of merges...
            first = next((i for i, (e, g) in enumerate(zip(expected, got, strict=True)) if e != _plain(g)), None)
            if first is None:
                return None
            around = slice(max(first - 2, 0), first + 3)
            return (f"{prefix}items differ first at index {first}: expected {expected[first]!r}, got {got[first]!r}; "
                    f"from index {around.start}: expected {list(expected[around])}, got {list(got[around])}")
        for i, (e, g) in enumerate(zip(expected, got, strict=True)):
            problem = difference(e, g, atol, rtol, f"{where}[{i}]" if where else f"item {i}")
            if problem:
                return problem
        return None
    if isinstance(expected, float):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, (int, float)):
            return f"{prefix}returned {type_name(got)}, expected a float"
        close = abs(got - expected) <= atol + rtol * abs(expected)
        return None if close else f"{prefix}{got:.6g}, expected {expected:.6g}"
    if got != expected:
        return f"{prefix}{got!r}, expected {expected!r}"
    return None
