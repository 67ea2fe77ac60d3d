"""Which device to run on and which precision to train in.

cuda > mps > cpu by default. Precision is an explicit setting: `--precision auto|fp32|bf16`,
else MINIMIND_PRECISION, else auto. `auto` uses bf16 autocast where the hardware does bf16
natively (CUDA with bf16 support, CPUs with AVX-512-BF16 or AMX) and fp32 elsewhere; `bf16`
forces autocast (slow on a CPU without native bf16, but correct); `fp32` never autocasts.
Never fp16 on a CPU: without native support it runs about 100x slower than fp32.
"""

from __future__ import annotations

import contextlib
import os

import torch

from minimind_notes.errors import UsageError


def pick_device(requested: str | None = None) -> torch.device:
    if requested and requested != "auto":
        try:
            device = torch.device(requested)
        except RuntimeError as e:
            raise UsageError(f"unknown device {requested!r}", hint="use cpu, cuda, cuda:N or mps") from e
        if device.type == "cuda" and not torch.cuda.is_available():
            raise UsageError("--device cuda was asked for, but torch sees no CUDA GPU",
                             hint="run `minimind doctor`, or use --device cpu")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise UsageError("--device mps was asked for, but MPS is not available here")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_has_fast_bf16() -> bool:
    """True when oneDNN reports native bf16 (AVX-512-BF16 / AMX) on this CPU."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


PRECISIONS = ("auto", "fp32", "bf16")
PRECISION_ENV = "MINIMIND_PRECISION"


def requested_precision(precision: str | None = None) -> str:
    """`precision` if given, else $MINIMIND_PRECISION, else 'auto'; checked against PRECISIONS."""
    chosen = (precision or os.environ.get(PRECISION_ENV) or "auto").strip().lower()
    chosen = {"bfloat16": "bf16", "float32": "fp32"}.get(chosen, chosen)  # MiniMind's --dtype spelling
    if chosen not in PRECISIONS:
        where = "--precision" if precision else PRECISION_ENV
        raise UsageError(f"{where}={chosen!r} is not a precision",
                         hint="use auto, fp32 or bf16 (MiniMind's --dtype bfloat16 works too; fp16 does not: "
                              "on a CPU it runs about 100x slower than fp32)")
    return chosen


def autocast_dtype(device: torch.device, precision: str | None = None) -> torch.dtype | None:
    """The autocast dtype for `precision` on `device`; None means plain fp32."""
    chosen = requested_precision(precision)
    if chosen == "fp32":
        return None
    if chosen == "bf16":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise UsageError("--precision bf16: this GPU has no bf16 support", hint="use --precision fp32")
        if device.type == "mps":
            raise UsageError("--precision bf16 is not supported on MPS here", hint="use --precision fp32")
        return torch.bfloat16
    return auto_autocast_dtype(device)


def auto_autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 where it is fast, else None (= plain fp32). MPS stays fp32."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    if device.type == "cpu":
        return torch.bfloat16 if cpu_has_fast_bf16() else None
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Mixed precision (fp32 master weights, bf16 matmuls) or a no-op context for fp32."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def precision_name(dtype: torch.dtype | None) -> str:
    return "fp32" if dtype is None else f"{str(dtype).removeprefix('torch.')} autocast"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
