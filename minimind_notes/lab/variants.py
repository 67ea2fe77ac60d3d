"""Ablation models for the experiments, assembled from the real MiniMind components.

`VariantLM` with default settings is MiniMindForCausalLM (same parameter names, same
logits: a test checks it). Each switch swaps one design choice for its alternative:

    norm:          rms (MiniMind) | layer (nn.LayerNorm) | none
    norm_position: pre (MiniMind) | post (the original 2017 Transformer)
    ffn:           swiglu (MiniMind) | gelu | relu (classic two-matrix FFN, same parameters)
    position:      rope (MiniMind) | learned (absolute embeddings, GPT-2 style) | none
    residual:      True (MiniMind) | False
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from minimind_notes.model import Attention, FeedForward, MiniMindConfig, RMSNorm
from minimind_notes.model.model import CausalLMOutput
from minimind_notes.model.rope import precompute_freqs_cis


@dataclass
class VariantConfig:
    vocab_size: int = 256  # byte-level text: no tokenizer needed
    hidden_size: int = 64
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 1024
    rope_theta: float = 1e6
    norm: str = "rms"
    norm_position: str = "pre"
    ffn: str = "swiglu"
    position: str = "rope"
    residual: bool = True

    def model_config(self) -> MiniMindConfig:
        return MiniMindConfig(
            vocab_size=self.vocab_size, hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers, num_attention_heads=self.num_attention_heads,
            num_key_value_heads=self.num_key_value_heads, rope_theta=self.rope_theta,
            max_position_embeddings=self.max_position_embeddings,
        )


class ClassicFFN(nn.Module):
    """down(act(up(x))): the 2017 Transformer's FFN. Width 1.5x SwiGLU's -> equal parameters."""

    def __init__(self, hidden: int, intermediate: int, act: str) -> None:
        super().__init__()
        self.up_proj = nn.Linear(hidden, intermediate, bias=False)
        self.down_proj = nn.Linear(intermediate, hidden, bias=False)
        self.act_fn = {"gelu": F.gelu, "relu": F.relu}[act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act_fn(self.up_proj(x)))


def make_norm(kind: str, dim: int, eps: float = 1e-5) -> nn.Module:
    if kind == "rms":
        return RMSNorm(dim, eps)
    if kind == "layer":
        return nn.LayerNorm(dim, eps=eps, bias=False)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}")


class VariantBlock(nn.Module):
    def __init__(self, vc: VariantConfig, config: MiniMindConfig) -> None:
        super().__init__()
        self.vc = vc
        self.self_attn = Attention(config)
        self.input_layernorm = make_norm(vc.norm, config.hidden_size)
        self.post_attention_layernorm = make_norm(vc.norm, config.hidden_size)
        assert config.intermediate_size is not None
        self.mlp = (FeedForward(config) if vc.ffn == "swiglu"
                    else ClassicFFN(config.hidden_size, config.intermediate_size * 3 // 2, vc.ffn))

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        attn = lambda h: self.self_attn(h, rope)[0]
        if not self.vc.residual:
            return self.mlp(self.post_attention_layernorm(attn(self.input_layernorm(x))))
        if self.vc.norm_position == "post":  # normalize after adding: the residual path is normed
            x = self.input_layernorm(x + attn(x))
            return self.post_attention_layernorm(x + self.mlp(x))
        x = x + attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class _Body(nn.Module):
    """Holds the parts under the same names as MiniMindModel (`model.layers.0...`)."""

    def __init__(self, vc: VariantConfig, config: MiniMindConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        if vc.position == "learned":
            self.embed_positions = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.layers = nn.ModuleList(VariantBlock(vc, config) for _ in range(config.num_hidden_layers))
        # Post-LN blocks already end in a norm; Pre-LN needs one before the head.
        self.norm = make_norm(vc.norm if vc.norm_position == "pre" else "none", config.hidden_size)


class VariantLM(nn.Module):
    def __init__(self, vc: VariantConfig | None = None, **switches: Any) -> None:
        super().__init__()
        self.vc = vc = vc or VariantConfig(**switches)
        self.config = config = vc.model_config()
        self.model = _Body(vc, config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.apply(self._init_weights)
        self.model.embed_tokens.weight = self.lm_head.weight
        self.set_rope_scaling(None)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)

    def set_rope_scaling(self, rope_scaling: dict | None) -> None:
        """Rebuild the rotation tables, e.g. with YaRN settings for longer contexts."""
        c = self.config
        cos, sin = precompute_freqs_cis(c.head_dim, c.max_position_embeddings, c.rope_theta, rope_scaling)
        if self.vc.position != "rope":  # identity rotation: attention sees no positions
            cos, sin = torch.ones_like(cos), torch.zeros_like(sin)
        device = self.lm_head.weight.device
        self.register_buffer("freqs_cos", cos.to(device), persistent=False)
        self.register_buffer("freqs_sin", sin.to(device), persistent=False)

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None) -> CausalLMOutput:
        t = input_ids.shape[1]
        h = self.model.embed_tokens(input_ids)  # (B, T, C)
        if self.vc.position == "learned":
            h = h + self.model.embed_positions(torch.arange(t, device=input_ids.device))
        rope = (self.freqs_cos[:t], self.freqs_sin[:t])
        for layer in self.model.layers:
            h = layer(h, rope)
        logits = self.lm_head(self.model.norm(h))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten())
        return CausalLMOutput(logits=logits, loss=loss)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
