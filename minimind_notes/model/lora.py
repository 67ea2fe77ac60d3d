"""LoRA: fine-tune a frozen Linear W by learning a low-rank update, W + (alpha/r) * B A.

A is (r, in) and B is (out, r), with r << in, out: for a 512x512 projection at r=8 that
is 8,192 trainable numbers instead of 262,144. B starts at zero, so training starts
from exactly the base model. `merge_lora` folds B A into W for inference at no cost.
"""

from __future__ import annotations

import torch
from torch import nn

DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class LoRALinear(nn.Linear):
    """An nn.Linear whose `weight` is the frozen base and `lora_A`/`lora_B` the update.

    It keeps the base's parameter name (`q_proj.weight`), so base checkpoints still load.
    """

    def __init__(self, base: nn.Linear, rank: int = 8, alpha: float = 16.0) -> None:
        nn.Module.__init__(self)
        self.in_features, self.out_features = base.in_features, base.out_features
        self.weight = base.weight
        self.bias = base.bias
        self.rank, self.alpha, self.scaling = rank, alpha, alpha / rank
        self.lora_A = nn.Parameter(base.weight.new_empty(rank, self.in_features))
        self.lora_B = nn.Parameter(base.weight.new_zeros(self.out_features, rank))
        nn.init.normal_(self.lora_A, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        update = (x @ self.lora_A.t().to(x.dtype)) @ self.lora_B.t().to(x.dtype)
        return super().forward(x) + self.scaling * update


def apply_lora(
    model: nn.Module, rank: int = 8, alpha: float = 16.0, targets: tuple[str, ...] = DEFAULT_TARGETS
) -> int:
    """Wrap every Linear whose name ends in one of `targets`, freeze all else.

    Returns the number of trainable (LoRA) parameters.
    """
    for p in model.parameters():
        p.requires_grad_(False)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if name in targets and type(child) is nn.Linear:
                setattr(parent, name, LoRALinear(child, rank, alpha))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the adapter weights: what a LoRA run saves (kilobytes, not the whole model)."""
    return {k: v for k, v in model.state_dict().items() if ".lora_" in k}


def load_lora_state_dict(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load adapter weights into a model already wrapped by `apply_lora` with the same rank."""
    from minimind_notes.model.checkpoint import check_state_dict

    expected = lora_state_dict(model)
    check_state_dict(expected, state, what="LoRA adapter")
    model.load_state_dict(state, strict=False)


@torch.no_grad()
def merge_lora(model: nn.Module) -> None:
    """Fold each adapter into its base weight and turn the layer back into a plain Linear."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, LoRALinear):
                plain = nn.Linear(child.in_features, child.out_features, bias=child.bias is not None)
                plain.weight = child.weight
                plain.bias = child.bias
                plain.weight += child.scaling * (child.lora_B @ child.lora_A).to(plain.weight.dtype)
                setattr(parent, name, plain)
