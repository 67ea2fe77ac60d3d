"""SwiGLU feed-forward: down(silu(gate(x)) * up(x)).

The gate branch decides, per hidden unit, how much of the up branch passes. Three
matrices of width ~8/3 * hidden hold about the parameters of a classic 4x two-matrix FFN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from minimind_notes.model.config import MiniMindConfig

ACTIVATIONS = {"silu": F.silu, "gelu": F.gelu, "relu": F.relu}


class FeedForward(nn.Module):
    def __init__(self, config: MiniMindConfig) -> None:
        super().__init__()
        assert config.intermediate_size is not None
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.dropout = nn.Dropout(config.dropout)
        self.act_fn = ACTIVATIONS[config.hidden_act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., C) -> (..., C)
        return self.dropout(self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x)))
