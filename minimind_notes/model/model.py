"""The MiniMind decoder: embeddings -> N pre-norm blocks -> RMSNorm -> tied lm_head.

Parameter names match MiniMind's checkpoints, MiniMind2's and minimind-3's (and Hugging Face
Llama's and Qwen3's), so official `.pth` weights load with strict=True and the model exports
to transformers (export.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from minimind_notes.model.attention import KVBuffer, KVCache, cached_length, causal_mask
from minimind_notes.model.block import MiniMindBlock
from minimind_notes.model.config import MiniMindConfig
from minimind_notes.model.loss import fused_linear_cross_entropy
from minimind_notes.model.moe import MOEFeedForward
from minimind_notes.model.norm import RMSNorm
from minimind_notes.model.rope import precompute_freqs_cis


@dataclass
class CausalLMOutput:
    logits: torch.Tensor | None  # (B, T, vocab), or (B, logits_to_keep, vocab); None with fused_loss
    loss: torch.Tensor | None = None  # mean next-token cross-entropy over labels != -100
    aux_loss: torch.Tensor | None = None  # MoE load-balancing loss (0 for dense models)
    past_key_values: list[KVCache] | list[KVBuffer] | None = None
    hidden_states: torch.Tensor | None = None  # final normed hidden states (B, T, C)
    attentions: list[torch.Tensor] | None = None  # per layer (B, nh, T, T_all), if asked


class MiniMindModel(nn.Module):
    def __init__(self, config: MiniMindConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(
            MiniMindBlock(i, config) for i in range(config.num_hidden_layers)
        )
        self.norm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        cos, sin = precompute_freqs_cis(
            config.head_dim, config.max_position_embeddings, config.rope_theta, config.rope_scaling
        )
        # Not saved in checkpoints: derived from the config.
        self.register_buffer("freqs_cos", cos, persistent=False)
        self.register_buffer("freqs_sin", sin, persistent=False)

    def forward(
        self,
        input_ids: torch.Tensor,  # (B, T)
        attention_mask: torch.Tensor | None = None,  # (B, T_past + T), 1 = token, 0 = padding
        past_key_values: list[KVCache] | list[KVBuffer] | None = None,
        use_cache: bool = False,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, list[KVCache] | list[KVBuffer] | None, list[torch.Tensor] | None]:
        b, t = input_ids.shape
        start = cached_length(past_key_values)
        if start + t > self.freqs_cos.shape[0]:
            raise ValueError(
                f"sequence of {start + t} positions exceeds max_position_embeddings "
                f"{self.freqs_cos.shape[0]}"
            )
        hidden = self.dropout(self.embed_tokens(input_ids))  # (B, T, C)
        position_embeddings = (self.freqs_cos[start:start + t], self.freqs_sin[start:start + t])

        mask = None
        if attention_mask is not None and not bool(attention_mask.all()):
            # Causal and not padding: (T, T_all) & (B, 1, 1, T_all) -> (B, 1, T, T_all).
            keys = attention_mask.bool()[:, None, None, :]
            mask = causal_mask(t, start + t, input_ids.device) & keys

        presents: list = []
        attentions: list[torch.Tensor] = []
        for i, layer in enumerate(self.layers):
            past = past_key_values[i] if past_key_values else None
            hidden, present, weights = layer(
                hidden, position_embeddings, past, use_cache, mask, output_attentions
            )
            if present is not None:
                presents.append(present)
            if weights is not None:
                attentions.append(weights)
        return (
            self.norm(hidden),
            presents if use_cache else None,
            attentions if output_attentions else None,
        )


class MiniMindForCausalLM(nn.Module):
    def __init__(self, config: MiniMindConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or MiniMindConfig()
        self.model = MiniMindModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.apply(self._init_weights)
        if config.tie_word_embeddings:
            self.model.embed_tokens.weight = self.lm_head.weight  # one matrix, two roles

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(
        self,
        input_ids: torch.Tensor,  # (B, T)
        attention_mask: torch.Tensor | None = None,
        past_key_values: list[KVCache] | list[KVBuffer] | None = None,
        use_cache: bool = False,
        labels: torch.Tensor | None = None,  # (B, T), shifted inside; -100 = ignore
        logits_to_keep: int = 0,  # >0: logits of the last N positions only (generation)
        output_attentions: bool = False,
        fused_loss: bool = False,  # with labels: the loss fused with the lm_head (model/loss.py), no logits
    ) -> CausalLMOutput:
        hidden, presents, attentions = self.model(
            input_ids, attention_mask, past_key_values, use_cache, output_attentions
        )
        logits = loss = None
        if labels is not None and fused_loss:  # training: the same loss without (B, T, vocab) logits
            loss = fused_linear_cross_entropy(
                hidden[:, :-1].flatten(0, 1), self.lm_head.weight, labels[:, 1:].flatten()
            )
        else:
            kept = hidden[:, -logits_to_keep:] if logits_to_keep > 0 else hidden
            logits = self.lm_head(kept)
            if labels is not None:
                loss = F.cross_entropy(
                    logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), ignore_index=-100
                )
        return CausalLMOutput(
            logits=logits, loss=loss, aux_loss=self.aux_loss(), past_key_values=presents,
            hidden_states=hidden, attentions=attentions,
        )

    def aux_loss(self) -> torch.Tensor:
        """Sum of the MoE layers' load-balancing losses from the last forward (0 if dense)."""
        losses = [m.aux_loss for m in self.modules() if isinstance(m, MOEFeedForward)]
        return sum(losses, torch.zeros((), device=self.model.norm.weight.device))  # norm: never quantized

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Parameters counted once (the tied embedding/lm_head matrix counts once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)
