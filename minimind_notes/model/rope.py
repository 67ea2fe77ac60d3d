"""Rotary position embedding (RoPE), rotate-half layout, with optional YaRN scaling.

Each pair of dimensions (i, i + d/2) of a query or key is rotated by the angle
position * freq_i. A rotated q at position m dotted with a rotated k at position n
depends only on m - n: attention sees relative position for free.
"""

from __future__ import annotations

import math
from typing import Any

import torch


def rope_frequencies(dim: int, base: float = 1e6) -> torch.Tensor:
    """Angular frequency of each of the dim/2 pairs: base^(-2i/dim), from 1 down to ~1/base."""
    return 1.0 / (base ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim))


def yarn_scale(freqs: torch.Tensor, rope_scaling: dict[str, Any], base: float = 1e6) -> torch.Tensor:
    """YaRN: rotate slower so that longer contexts stay in the trained range of angles.

    Two variants, chosen by rope_scaling["variant"]: "minimind2" (the default, MiniMind2's own
    simplification) and "standard" (the paper's ramp, as transformers and minimind-3 compute it).
    """
    if rope_scaling.get("variant", "minimind2") == "standard":
        return yarn_standard_scale(freqs, rope_scaling, base)
    return yarn_minimind2_scale(freqs, rope_scaling)


def yarn_minimind2_scale(freqs: torch.Tensor, rope_scaling: dict[str, Any]) -> torch.Tensor:
    """MiniMind2's simplified YaRN.

    Pairs before `corr_dim`, the first pair whose wavelength exceeds the trained length, are
    scaled by (b*f - b + 1) / (b*f), with b ramping linearly from beta_slow (pair 0: factor 1)
    to beta_fast; pair `corr_dim` and all slower pairs are divided by f.
    """
    orig_max = rope_scaling.get("original_max_position_embeddings", 2048)
    factor = rope_scaling.get("factor", 4)
    beta_fast = rope_scaling.get("beta_fast", 4.0)
    beta_slow = rope_scaling.get("beta_slow", 1.0)
    half = freqs.shape[0]
    wavelength = 2 * math.pi / freqs
    long = (wavelength > orig_max).nonzero()
    corr_dim = int(long[0]) if len(long) else half
    power = torch.arange(half).float() / max(half - 1, 1)
    beta = beta_slow + (beta_fast - beta_slow) * power
    scale = torch.where(
        torch.arange(half) < corr_dim, (beta * factor - beta + 1) / (beta * factor), 1.0 / factor
    )
    return freqs * scale


def yarn_standard_scale(freqs: torch.Tensor, rope_scaling: dict[str, Any], base: float) -> torch.Tensor:
    """The paper's YaRN (minimind-3, transformers' "yarn"): pairs that turn more than beta_fast times
    within the trained length keep their frequency, pairs that turn less than beta_slow times are
    divided by the factor, and a linear ramp over the pair index blends the two in between."""
    orig_max = rope_scaling.get("original_max_position_embeddings", 2048)
    factor = rope_scaling.get("factor", 16)
    dim = 2 * freqs.shape[0]

    def pair_turning(turns: float) -> float:
        """The (fractional) pair index whose wavelength fits `turns` times into orig_max."""
        return dim * math.log(orig_max / (turns * 2 * math.pi)) / (2 * math.log(base))

    low = max(math.floor(pair_turning(rope_scaling.get("beta_fast", 32.0))), 0)
    high = min(math.ceil(pair_turning(rope_scaling.get("beta_slow", 1.0))), dim - 1)
    if high == low:
        high += 0.001  # as transformers does: a step instead of a ramp, no division by zero
    ramp = ((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)
    return freqs / factor * ramp + freqs * (1 - ramp)


def precompute_freqs_cis(
    dim: int, end: int = 32 * 1024, rope_base: float = 1e6,
    rope_scaling: dict[str, Any] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables, each (end, dim): the dim/2 angles concatenated twice (rotate-half).

    YaRN applies only when the table is longer than the trained length; its attention factor
    (1.0 in MiniMind) multiplies both tables."""
    freqs = rope_frequencies(dim, rope_base)
    attention_factor = 1.0
    if rope_scaling is not None and end / rope_scaling.get("original_max_position_embeddings", 2048) > 1:
        freqs = yarn_scale(freqs, rope_scaling, rope_base)
        attention_factor = rope_scaling.get("attention_factor", 1.0)
    angles = torch.outer(torch.arange(end).float(), freqs)  # (end, dim/2)
    cos = torch.cat([angles.cos(), angles.cos()], dim=-1) * attention_factor
    sin = torch.cat([angles.sin(), angles.sin()], dim=-1) * attention_factor
    return cos, sin


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) on the two halves of the last dimension."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary_pos_emb(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, unsqueeze_dim: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate q and k, both (B, T, nh, hd), by cos/sin of shape (T, hd).

    unsqueeze_dim=1 turns (T, hd) into (T, 1, hd), broadcasting over the heads.
    """
    cos, sin = cos.unsqueeze(unsqueeze_dim), sin.unsqueeze(unsqueeze_dim)
    q_embed = (q * cos + rotate_half(q) * sin).to(q.dtype)
    k_embed = (k * cos + rotate_half(k) * sin).to(k.dtype)
    return q_embed, k_embed
