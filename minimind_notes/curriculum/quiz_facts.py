"""Facts a quiz answer may rely on, computed from the project's own model code.

A quiz question lists them as `{fact: NAME, args: {...}, value: EXPECTED}`; the test suite
evaluates every one, so a question that teaches a wrong size or weight name fails CI.
Presets are the names of `minimind_notes.model.config.PRESETS` (default `minimind2-small`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

FACTS: dict[str, Callable[..., Any]] = {}


def fact(fn: Callable[..., Any]) -> Callable[..., Any]:
    FACTS[fn.__name__] = fn
    return fn


@cache
def _model(preset: str):
    import torch

    from minimind_notes.model import MiniMindForCausalLM
    from minimind_notes.model.config import preset as make

    torch.manual_seed(0)
    with torch.device("meta"):  # shapes and names only, no memory
        return MiniMindForCausalLM(make(preset))


def _config(preset: str):
    from minimind_notes.model.config import preset as make

    return make(preset)


@fact
def config_value(field: str, preset: str = "minimind2-small") -> Any:
    """A MiniMindConfig field of a preset, e.g. rope_theta, num_key_value_heads, rms_norm_eps."""
    return getattr(_config(preset), field)


@fact
def ffn_intermediate_size(hidden_size: int, rule: str = "8/3") -> int:
    """SwiGLU's hidden width for a model width: 64 * ceil(int(hidden * 8 / 3) / 64) (MiniMind2), or with
    rule "pi" 64 * ceil(hidden * pi / 64) (minimind-3)."""
    from minimind_notes.model.config import default_intermediate_size

    return default_intermediate_size(hidden_size, rule)


@fact
def head_dim(preset: str = "minimind2-small") -> int:
    return _config(preset).head_dim


@fact
def query_heads_per_kv_head(preset: str = "minimind2-small") -> int:
    cfg = _config(preset)
    return cfg.num_attention_heads // cfg.num_key_value_heads


@fact
def param_count(preset: str = "minimind2-small") -> int:
    """Parameters of the whole model (tied lm_head counted once)."""
    return sum(p.numel() for p in _model(preset).parameters())


@fact
def ffn_params(hidden_size: int) -> int:
    """Weights of one SwiGLU feed-forward: gate, up (hidden x inter) and down (inter x hidden)."""
    return 3 * hidden_size * ffn_intermediate_size(hidden_size)


@fact
def has_weight(name: str, preset: str = "minimind2-small") -> bool:
    """Whether the state dict has this exact key, e.g. model.layers.0.input_layernorm.weight."""
    return name in _model(preset).state_dict()


@fact
def weight_shape(name: str, preset: str = "minimind2-small") -> list[int]:
    return list(_model(preset).state_dict()[name].shape)


@fact
def kv_cache_bytes_per_token(preset: str = "minimind2-small", bytes_per_value: int = 2) -> int:
    """2 (K and V) x layers x KV heads x head_dim x bytes per value."""
    cfg = _config(preset)
    return 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * cfg.head_dim * bytes_per_value


@fact
def rope_frequencies(preset: str = "minimind2-small") -> int:
    """Number of distinct rotation frequencies: one per pair of dimensions, head_dim / 2."""
    return _config(preset).head_dim // 2


@fact
def rope_wavelength(index: int, preset: str = "minimind2-small") -> float:
    """Positions for one full turn of frequency `index`: 2 pi * theta^(2 index / head_dim)."""
    import math

    cfg = _config(preset)
    return round(2 * math.pi * cfg.rope_theta ** (2 * index / cfg.head_dim), 3)


@fact
def yarn_pairs(preset: str = "minimind-3") -> dict[str, int]:
    """How YaRN treats a preset's RoPE pairs: kept (frequency unchanged), ramped, divided (by the factor)."""
    from minimind_notes.model.rope import rope_frequencies, yarn_scale

    cfg = _config(preset).replace(inference_rope_scaling=True)
    freqs = rope_frequencies(cfg.head_dim, cfg.rope_theta)
    ratio = (yarn_scale(freqs, cfg.rope_scaling, cfg.rope_theta) / freqs).tolist()
    kept = sum(abs(r - 1) < 1e-6 for r in ratio)
    divided = sum(abs(r * cfg.yarn_factor - 1) < 1e-4 for r in ratio)
    return {"kept": kept, "ramped": len(ratio) - kept - divided, "divided": divided}


@fact
def rms_norm(x: list[float], eps: float = 1e-5) -> list[float]:
    """The project's RMSNorm (weight 1) applied to the vector x, rounded to 4 places."""
    import torch

    from minimind_notes.model.norm import RMSNorm

    with torch.no_grad():
        out = RMSNorm(len(x), eps)(torch.tensor([x], dtype=torch.float32))[0]
    return [round(float(v), 4) for v in out]


@fact
def lora_params(in_features: int, out_features: int, rank: int) -> int:
    """Trainable weights LoRA adds to one linear layer: rank x (in + out)."""
    import torch

    from minimind_notes.model.lora import LoRALinear

    layer = LoRALinear(torch.nn.Linear(in_features, out_features, bias=False), rank=rank)
    return sum(p.numel() for n, p in layer.named_parameters() if "lora" in n)


@fact
def vocab_size(preset: str = "minimind2-small") -> int:
    return _config(preset).vocab_size


def evaluate(name: str, args: dict[str, Any]) -> Any:
    if name not in FACTS:
        raise KeyError(f"unknown fact {name!r}; known: {', '.join(sorted(FACTS))}")
    return FACTS[name](**args)
