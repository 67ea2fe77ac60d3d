"""AdamW the fast way for the device: fused kernels where PyTorch has them, else foreach."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch


def build_adamw(
    params: Iterable[torch.nn.Parameter] | list[dict[str, Any]], lr: float, device: torch.device,
    weight_decay: float = 0.01, betas: tuple[float, float] = (0.9, 0.95),
) -> tuple[torch.optim.AdamW, str]:
    """AdamW over the trainable params (or param groups: dicts with "params"), and which implementation it
    uses ("fused"/"foreach")."""
    params = list(params)
    if params and isinstance(params[0], dict):
        params = [{**g, "params": [p for p in g["params"] if p.requires_grad]} for g in params]
    else:
        params = [p for p in params if p.requires_grad]
    try:
        opt = torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay, fused=True)
        if device.type not in ("cpu", "cuda", "mps"):
            raise RuntimeError("no fused kernel")
        return opt, "fused"
    except (RuntimeError, TypeError):
        opt = torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay, foreach=True)
        return opt, "foreach"
