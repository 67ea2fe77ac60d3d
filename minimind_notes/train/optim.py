"""AdamW the fast way for the device: fused kernels where PyTorch has them, else foreach."""

from __future__ import annotations

from collections.abc import Iterable

import torch


def build_adamw(
    params: Iterable[torch.nn.Parameter], lr: float, device: torch.device,
    weight_decay: float = 0.01, betas: tuple[float, float] = (0.9, 0.95),
) -> tuple[torch.optim.AdamW, str]:
    """AdamW over the trainable params, and which implementation it uses ("fused"/"foreach")."""
    params = [p for p in params if p.requires_grad]
    try:
        opt = torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay, fused=True)
        if device.type not in ("cpu", "cuda", "mps"):
            raise RuntimeError("no fused kernel")
        return opt, "fused"
    except (RuntimeError, TypeError):
        opt = torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay, foreach=True)
        return opt, "foreach"
