"""One pre-norm decoder block: x + attn(norm(x)), then h + mlp(norm(h)).

Normalizing the input of each sub-layer (Pre-LN) and leaving the residual path untouched
lets gradients flow straight from the loss to the first layer, however deep the stack.
"""

from __future__ import annotations

import torch
from torch import nn

from minimind_notes.model.attention import Attention, KVCache
from minimind_notes.model.config import MiniMindConfig
from minimind_notes.model.feedforward import FeedForward
from minimind_notes.model.moe import MOEFeedForward
from minimind_notes.model.norm import RMSNorm


class MiniMindBlock(nn.Module):
    def __init__(self, layer_id: int, config: MiniMindConfig) -> None:
        super().__init__()
        self.layer_id = layer_id
        self.self_attn = Attention(config)
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.mlp = MOEFeedForward(config) if config.use_moe else FeedForward(config)

    def forward(
        self,
        hidden_states: torch.Tensor,  # (B, T, C)
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        past_key_value: KVCache | None = None,
        use_cache: bool = False,
        attn_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, KVCache | None, torch.Tensor | None]:
        attn_out, present, weights = self.self_attn(
            self.input_layernorm(hidden_states), position_embeddings,
            past_key_value, use_cache, attn_mask, output_attentions,
        )
        hidden_states = hidden_states + attn_out
        hidden_states = hidden_states + self.mlp(self.post_attention_layernorm(hidden_states))
        return hidden_states, present, weights
