"""Grouped-query self-attention with RoPE, a KV cache and (minimind-3) QK-norm.

Two paths compute the same thing: PyTorch's fused `F.scaled_dot_product_attention`
(fast, memory-light) and `explicit_attention`, softmax(QK^T / sqrt(d)) V written out,
which is the one the curriculum teaches and the only one that can return the weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from minimind_notes.model.config import MiniMindConfig
from minimind_notes.model.norm import RMSNorm
from minimind_notes.model.rope import apply_rotary_pos_emb

KVCache = tuple[torch.Tensor, torch.Tensor]  # (k, v), each (B, T_past, n_kv, hd)


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """(B, T, n_kv, hd) -> (B, T, n_kv * n_rep, hd): each KV head serves n_rep query heads."""
    if n_rep == 1:
        return x
    b, t, n_kv, hd = x.shape
    return x[:, :, :, None, :].expand(b, t, n_kv, n_rep, hd).reshape(b, t, n_kv * n_rep, hd)


def causal_mask(q_len: int, k_len: int, device: torch.device | None = None) -> torch.Tensor:
    """(q_len, k_len) bool, True = may attend: the queries are the last q_len of k_len positions."""
    return torch.ones(q_len, k_len, dtype=torch.bool, device=device).tril(k_len - q_len)


def mask_to_bias(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Bool mask -> additive bias: 0 where allowed, the dtype's most negative value elsewhere.

    A finite value (not -inf) keeps a fully masked row (a left-pad query) from becoming NaN.
    """
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(
        ~mask, torch.finfo(dtype).min
    )


def explicit_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q k^T / sqrt(hd)) v for q (B, nh, Tq, hd), k and v (B, nh, Tk, hd).

    mask: bool, broadcastable to (B, nh, Tq, Tk), True = may attend; None = attend to all.
    Returns the output (B, nh, Tq, hd) and the weights (B, nh, Tq, Tk).
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, nh, Tq, Tk)
    if mask is not None:
        scores = scores + mask_to_bias(mask, scores.dtype)
    weights = F.softmax(scores.float(), dim=-1).type_as(q)
    if dropout_p > 0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v, weights


class Attention(nn.Module):
    def __init__(self, config: MiniMindConfig) -> None:
        super().__init__()
        self.n_heads = config.num_attention_heads
        self.n_kv_heads = config.num_key_value_heads
        self.n_rep = self.n_heads // self.n_kv_heads
        self.head_dim = config.head_dim
        self.q_proj = nn.Linear(config.hidden_size, self.n_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(config.hidden_size, self.n_kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(config.hidden_size, self.n_kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, config.hidden_size, bias=False)
        # minimind-3 (as Qwen3): normalising each head's q and k bounds the attention logits, which
        # otherwise grow with the weights; RoPE then rotates the normalised vectors.
        self.q_norm = RMSNorm(self.head_dim, eps=config.rms_norm_eps) if config.qk_norm else None
        self.k_norm = RMSNorm(self.head_dim, eps=config.rms_norm_eps) if config.qk_norm else None
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)
        self.flash = config.flash_attn

    def forward(
        self,
        x: torch.Tensor,  # (B, T, C)
        position_embeddings: tuple[torch.Tensor, torch.Tensor],  # cos, sin: (T, hd)
        past_key_value: KVCache | KVBuffer | None = None,
        use_cache: bool = False,
        attn_mask: torch.Tensor | None = None,  # bool (B, 1, T, T_past + T); None -> causal
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, KVCache | KVBuffer | None, torch.Tensor | None]:
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.n_heads, self.head_dim)
        k = self.k_proj(x).view(b, t, self.n_kv_heads, self.head_dim)
        v = self.v_proj(x).view(b, t, self.n_kv_heads, self.head_dim)
        if self.q_norm is not None and self.k_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        cos, sin = position_embeddings
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        if isinstance(past_key_value, KVBuffer):  # preallocated: written in place, and kept as it is
            k, v = past_key_value.append(k, v)
            present = past_key_value
            if self.flash and not output_attentions and not self.training:
                if attn_mask is None and t > 1:
                    attn_mask = causal_mask(t, k.shape[1], x.device)
                y = grouped_sdpa(q.transpose(1, 2), k, v, attn_mask).transpose(1, 2).reshape(b, t, -1)
                return self.resid_dropout(self.o_proj(y)), present, None
        else:
            if past_key_value is not None:  # append this step's keys/values to the cache
                k = torch.cat([past_key_value[0], k], dim=1)
                v = torch.cat([past_key_value[1], v], dim=1)
            present = (k, v) if use_cache else None

        q = q.transpose(1, 2)  # (B, nh, T, hd)
        dropout_p = self.dropout if self.training else 0.0
        weights = None
        use_sdpa = self.flash and not output_attentions
        if use_sdpa and attn_mask is None and past_key_value is None:
            # A whole unpadded sequence: SDPA's is_causal fast path, no mask tensor at all, and no
            # repeat_kv copies: each of the n_kv heads serves its n_rep query heads.
            k, v = k.transpose(1, 2), v.transpose(1, 2)  # (B, n_kv, T, hd)
            y = causal_sdpa(q, k, v, dropout_p)
        else:
            k = repeat_kv(k, self.n_rep).transpose(1, 2)  # (B, nh, T_all, hd)
            v = repeat_kv(v, self.n_rep).transpose(1, 2)
            if attn_mask is None and t > 1:
                attn_mask = causal_mask(t, k.shape[2], x.device)
            if use_sdpa:
                bias = None if attn_mask is None else mask_to_bias(attn_mask, q.dtype)
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout_p)
            else:
                y, weights = explicit_attention(q, k, v, attn_mask, dropout_p)
        y = y.transpose(1, 2).reshape(b, t, -1)  # (B, T, nh * hd)
        return self.resid_dropout(self.o_proj(y)), present, weights


class KVBuffer:
    """One layer's keys and values preallocated for `max_len` positions, (B, max_len, n_kv, hd) each.

    A step writes its new positions in place and attends to a view of the filled part: no
    torch.cat, whose copy of the whole cache grows with every step. Allocated at the first write,
    in the dtype the keys arrive in (bf16 under autocast)."""

    def __init__(self, max_len: int) -> None:
        self.max_len = max_len
        self.length = 0  # positions filled so far
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    def append(self, k: torch.Tensor, v: torch.Tensor) -> KVCache:
        """Write k, v (B, T, n_kv, hd) after the filled positions; return views of all of them."""
        if self.k is None or self.v is None:
            self.k = k.new_empty(k.shape[0], self.max_len, *k.shape[2:])
            self.v = v.new_empty(v.shape[0], self.max_len, *v.shape[2:])
        end = self.length + k.shape[1]
        if end > self.max_len:
            raise ValueError(f"KV buffer of {self.max_len} positions cannot hold {end}")
        self.k[:, self.length:end] = k
        self.v[:, self.length:end] = v
        self.length = end
        return self.k[:, :end], self.v[:, :end]


def cached_length(past_key_values: list[KVCache] | list[KVBuffer] | None) -> int:
    """Positions already in the cache (0 without one)."""
    if not past_key_values:
        return 0
    first = past_key_values[0]
    return first.length if isinstance(first, KVBuffer) else first[0].shape[1]


def causal_sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout_p: float = 0.0) -> torch.Tensor:
    """Causal SDPA of q (B, nh, T, hd) over k, v (B, n_kv, T, hd), the KV heads shared (enable_gqa)
    as repeat_kv orders them: query head h reads KV head h // (nh / n_kv).

    bf16 on a CPU runs in float32: PyTorch's CPU attention kernel, its backward above all, is faster in
    float32 than in bf16 even with the casts (measured at head sizes 24 and 64, issue #22)."""
    if q.device.type == "cpu" and q.dtype == torch.bfloat16:
        with torch.autocast("cpu", enabled=False):  # autocast would cast the inputs back to bf16
            return causal_sdpa(q.float(), k.float(), v.float(), dropout_p).to(q.dtype)
    return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=q.shape[2] > 1, enable_gqa=True)


def grouped_sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """SDPA of q (B, nh, T, hd) over k, v (B, T_all, n_kv, hd) without repeating k and v.

    The n_rep query heads that share a KV head are just more query rows for it: q becomes
    (B, n_kv, n_rep * T, hd), and a bool mask (.., T, T_all) is repeated for each of those rows."""
    b, nh, t, hd = q.shape
    n_kv = k.shape[2]
    q = q.reshape(b, n_kv, nh // n_kv * t, hd)  # heads are KV-major (repeat_kv's order)
    bias = None
    if mask is not None:
        mask = mask.reshape(-1, 1, t, mask.shape[-1]).repeat(1, 1, nh // n_kv, 1)  # (B or 1, 1, n_rep * T, T_all)
        bias = mask_to_bias(mask, q.dtype)
    y = F.scaled_dot_product_attention(q, k.transpose(1, 2), v.transpose(1, 2), attn_mask=bias)
    return y.reshape(b, nh, t, hd)
