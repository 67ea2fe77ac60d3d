"""The tiny MiniMind a learner's component is plugged into: the real model, seeded, small enough for a CPU."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from minimind_notes.model import MiniMindConfig, MiniMindForCausalLM

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=64,
            max_position_embeddings=64, intermediate_size=64)


def tiny_model(seed: int = 0, **overrides: object) -> MiniMindForCausalLM:
    torch.manual_seed(seed)
    model = MiniMindForCausalLM(MiniMindConfig(**{**TINY, **overrides})).eval()
    with torch.no_grad():  # norms away from 1 and a sharper head, so a wrong norm or head shows in the logits
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.uniform_(0.5, 1.5)
        model.lm_head.weight.mul_(10)
    return model


def tiny_ids(seed: int = 1, batch: int = 2, length: int = 9) -> torch.Tensor:
    return torch.randint(0, TINY["vocab_size"], (batch, length), generator=torch.Generator().manual_seed(seed))


def plugged_logits(patch: Callable[[nn.Module], None]) -> tuple[torch.Tensor, torch.Tensor]:
    """(the real tiny model's logits, the same model's logits after `patch` swaps in the learner's part)."""
    model = tiny_model()
    ids = tiny_ids()
    with torch.no_grad():
        expected = model(ids).logits
        learner = copy.deepcopy(model)
        patch(learner)
        return expected, learner(ids).logits


def patch_modules(model: nn.Module, kind: type, forward: Callable[[nn.Module], Callable]) -> None:
    """Give every submodule of type `kind` the forward that `forward(module)` returns."""
    for module in model.modules():
        if type(module) is kind:
            module.forward = forward(module)


def attention_forward(m: nn.Module, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                      core: Callable | None = None, rope: Callable | None = None) -> torch.Tensor:
    """The real Attention's computation (no cache, no padding) with a pluggable core and RoPE:
    core(q, k, v) on (B, nh, T, hd) after repeat_kv, rope(q, k, cos, sin) on (B, T, heads, hd)."""
    import torch.nn.functional as F

    from minimind_notes.model.attention import repeat_kv
    from minimind_notes.model.rope import apply_rotary_pos_emb

    b, t, _ = x.shape
    q = m.q_proj(x).view(b, t, m.n_heads, m.head_dim)
    k = m.k_proj(x).view(b, t, m.n_kv_heads, m.head_dim)
    v = m.v_proj(x).view(b, t, m.n_kv_heads, m.head_dim)
    q, k = (rope or apply_rotary_pos_emb)(q, k, cos, sin)
    q, k, v = q.transpose(1, 2), repeat_kv(k, m.n_rep).transpose(1, 2), repeat_kv(v, m.n_rep).transpose(1, 2)
    y = core(q, k, v) if core else F.scaled_dot_product_attention(q, k, v, is_causal=t > 1)
    return m.o_proj(y.transpose(1, 2).reshape(b, t, -1))


def patch_attention(model: nn.Module, make: Callable[[nn.Module], Callable]) -> None:
    """Every Attention computes make(module)(x, cos, sin) -> (B, T, C) instead (no cache: for logits and training)."""
    from minimind_notes.model.attention import Attention

    def forward(m: nn.Module) -> Callable:
        fn = make(m)

        def attention(x, position_embeddings, past_key_value=None, use_cache=False, attn_mask=None,
                      output_attentions=False):
            return fn(x, *position_embeddings), None, None

        return attention

    patch_modules(model, Attention, forward)
