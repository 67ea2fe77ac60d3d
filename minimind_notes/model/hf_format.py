"""MiniMind <-> Hugging Face transformers: the same model under transformers' architectures and names.

Every MiniMind is a transformers architecture, most under the very same parameter names:
- MiniMind2 dense is a `LlamaForCausalLM` (RMSNorm, rotate-half RoPE, GQA, SwiGLU).
- minimind-3 is a `Qwen3ForCausalLM` (Llama plus QK-norm), its MoE a `Qwen3MoeForCausalLM`
  (softmax router, top-k weights renormalised, no shared expert).
- MiniMind2-MoE (softmax top-2, renormalised, plus shared experts that every token passes through
  with weight 1) is a `Qwen2MoeForCausalLM`, whose one shared expert has a sigmoid gate: with the
  gate's weights at zero the gate is sigmoid(0) = 0.5 exactly, so the shared experts are written
  side by side as one wider FFN with down_proj doubled, and 0.5 * (2 W h) equals W h in floating
  point (scaling by a power of two rounds nothing).
This file maps configs and state dicts both ways and does no file I/O: `export.py` writes folders,
`checkpoint.py` reads them.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from minimind_notes.errors import MiniMindError
from minimind_notes.model.config import MINIMIND3, MiniMindConfig

ARCHITECTURES = {"llama": "LlamaForCausalLM", "qwen3": "Qwen3ForCausalLM", "qwen3_moe": "Qwen3MoeForCausalLM",
                 "qwen2_moe": "Qwen2MoeForCausalLM"}
SHARED_GATE = ".mlp.shared_expert_gate.weight"  # Qwen2-MoE's gate on its shared expert


def model_type(config: MiniMindConfig) -> str:
    """The transformers model_type that computes what `config` computes, or a MiniMindError saying why none does."""
    if not config.use_moe:
        return "qwen3" if config.qk_norm else "llama"
    if config.qk_norm:
        if config.n_shared_experts:
            raise MiniMindError(
                "cannot export a MoE with both QK-norm and shared experts: Qwen3-MoE (QK-norm) has no shared expert "
                "and Qwen2-MoE (shared expert) has no QK-norm; any other architecture would compute other logits")
        return "qwen3_moe"
    if not config.n_shared_experts:
        raise MiniMindError(
            "cannot export a MiniMind2-style MoE without a shared expert: Qwen2-MoE, the transformers MoE without "
            "QK-norm, always has one; any other architecture would compute other logits")
    return "qwen2_moe"


def hf_norm_topk_prob(config: MiniMindConfig) -> bool:
    """transformers renormalises at every k, MiniMind2 only when k > 1."""
    return config.norm_topk_prob and (config.num_experts_per_tok > 1 or config.norm_top1_prob)


def hf_rope_parameters(config: MiniMindConfig) -> dict[str, Any]:
    rope: dict[str, Any] = {"rope_type": "default", "rope_theta": config.rope_theta}
    scaling = config.rope_scaling
    if scaling is None or config.max_position_embeddings <= config.yarn_original_max_position_embeddings:
        return rope  # precompute_freqs_cis applies YaRN only to tables longer than the trained length
    if config.yarn_variant != "standard":
        raise MiniMindError(
            "cannot export MiniMind2's YaRN (inference_rope_scaling with yarn_variant 'minimind2'): it is MiniMind2's "
            "own simplification, and transformers' YaRN would compute other logits",
            hint="export the same weights without it: load_model(path, config=read_config(path).replace("
                 "inference_rope_scaling=False)), then export_hf")
    return {**rope, "rope_type": "yarn", "factor": scaling["factor"],
            "original_max_position_embeddings": scaling["original_max_position_embeddings"],
            "beta_fast": scaling["beta_fast"], "beta_slow": scaling["beta_slow"],
            "attention_factor": scaling["attention_factor"]}


def hf_config(config: MiniMindConfig) -> dict[str, Any]:
    """config.json for `config` (raises MiniMindError when no transformers architecture fits)."""
    kind = model_type(config)
    rope = hf_rope_parameters(config)
    hf: dict[str, Any] = {
        "architectures": [ARCHITECTURES[kind]],
        "model_type": kind,
        "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size,
        "num_hidden_layers": config.num_hidden_layers,
        "num_attention_heads": config.num_attention_heads,
        "num_key_value_heads": config.num_key_value_heads,
        "head_dim": config.head_dim,
        "vocab_size": config.vocab_size,
        "max_position_embeddings": config.max_position_embeddings,
        "rms_norm_eps": config.rms_norm_eps,
        "rope_theta": config.rope_theta,  # and rope_scaling below: the keys older readers (llama.cpp) look for
        "rope_parameters": rope,
        "hidden_act": config.hidden_act,
        "attention_bias": False,
        "tie_word_embeddings": config.tie_word_embeddings,
        "bos_token_id": config.bos_token_id,
        "eos_token_id": config.eos_token_id,
        "pad_token_id": config.pad_token_id,
        "dtype": "float32",
    }
    if rope["rope_type"] != "default":
        hf["rope_scaling"] = {k: v for k, v in rope.items() if k != "rope_theta"}
    if kind == "llama":
        hf["mlp_bias"] = False
    else:
        hf["use_sliding_window"] = False
    if config.use_moe:
        hf.update(num_experts=config.n_routed_experts, num_experts_per_tok=config.num_experts_per_tok,
                  moe_intermediate_size=config.intermediate_size, norm_topk_prob=hf_norm_topk_prob(config),
                  router_aux_loss_coef=config.aux_loss_alpha, decoder_sparse_step=1, mlp_only_layers=[])
    if kind == "qwen2_moe":
        hf.update(shared_expert_intermediate_size=config.n_shared_experts * config.intermediate_size, qkv_bias=False)
    return hf


def hf_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's tensors under transformers' on-disk names (the tied lm_head stored once)."""
    config: MiniMindConfig = model.config
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    if config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    if model_type(config) == "qwen2_moe":
        for i in range(config.num_hidden_layers):
            mlp = f"model.layers.{i}.mlp"
            shared = [[state.pop(f"{mlp}.shared_experts.{s}.{name}.weight") for s in range(config.n_shared_experts)]
                      for name in ("gate_proj", "up_proj", "down_proj")]
            # Side by side the shared experts are one FFN of n_shared times the width (SwiGLU acts per unit).
            state[f"{mlp}.shared_expert.gate_proj.weight"] = torch.cat(shared[0])
            state[f"{mlp}.shared_expert.up_proj.weight"] = torch.cat(shared[1])
            state[f"{mlp}.shared_expert.down_proj.weight"] = torch.cat(shared[2], dim=1) * 2
            state[f"model.layers.{i}{SHARED_GATE}"] = shared[0][0].new_zeros(1, config.hidden_size)  # sigmoid(0) = 0.5
    return state


def config_from_hf(hf: dict[str, Any], where: Path) -> MiniMindConfig:
    """The MiniMindConfig of a transformers config.json; a MiniMindError for what MiniMind cannot compute
    (a KeyError, TypeError or ValueError for a malformed one)."""
    kind = hf.get("model_type")
    if kind not in ARCHITECTURES:
        raise MiniMindError(f"{where}: model_type {kind!r} is not one MiniMind computes",
                            hint="MiniMind reads minimind (its own format), llama (MiniMind2), qwen3 and qwen3_moe "
                                 "(minimind-3), and qwen2_moe (MiniMind2-MoE, as `minimind export` writes it)")
    unsupported = [k for k in ("attention_bias", "mlp_bias", "qkv_bias", "use_sliding_window", "mlp_only_layers")
                   if hf.get(k)]
    if hf.get("decoder_sparse_step", 1) != 1:  # dense layers between the MoE ones
        unsupported.append("decoder_sparse_step")
    if kind == "qwen2_moe" and "qkv_bias" not in hf:
        unsupported.append("qkv_bias (Qwen2-MoE's default is true)")
    rope = {**(hf.get("rope_scaling") or {}), **(hf.get("rope_parameters") or {})}
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type not in ("default", "yarn") or any(k in rope for k in ("mscale", "mscale_all_dim")) \
            or rope.get("truncate", True) is False or rope.get("partial_rotary_factor", 1.0) != 1.0:
        unsupported.append(f"rope {rope}")
    if unsupported:
        raise MiniMindError(f"{where}: MiniMind has no {', '.join(map(str, unsupported))}",
                            hint="these change what the model computes; loading it as MiniMind would give other logits")
    heads = hf["num_attention_heads"]
    eos = hf.get("eos_token_id")
    eos = eos[0] if isinstance(eos, list) and eos else eos

    def token_id(value: Any, default: int) -> int:
        return default if value is None else int(value)

    fields: dict[str, Any] = {**(MINIMIND3 if kind.startswith("qwen3") else {})}
    fields.update(
        hidden_size=hf["hidden_size"], num_hidden_layers=hf["num_hidden_layers"], num_attention_heads=heads,
        num_key_value_heads=hf.get("num_key_value_heads") or heads, head_dim=hf.get("head_dim"),
        vocab_size=hf["vocab_size"], intermediate_size=hf.get("intermediate_size"),
        max_position_embeddings=hf.get("max_position_embeddings", 32768), rms_norm_eps=hf.get("rms_norm_eps", 1e-6),
        rope_theta=rope.get("rope_theta", hf.get("rope_theta", 10000.0)), hidden_act=hf.get("hidden_act", "silu"),
        tie_word_embeddings=hf.get("tie_word_embeddings", False),
        bos_token_id=token_id(hf.get("bos_token_id"), 1), eos_token_id=token_id(eos, 2),
        pad_token_id=token_id(hf.get("pad_token_id"), 0),
    )
    if rope_type == "yarn":
        factor = rope.get("factor") or hf["max_position_embeddings"] / rope["original_max_position_embeddings"]
        attention_factor = rope.get("attention_factor")
        if attention_factor is None:  # transformers' default, the paper's 0.1 ln(s) + 1
            attention_factor = 0.1 * math.log(factor) + 1.0 if factor > 1 else 1.0
        fields.update(inference_rope_scaling=True, yarn_variant="standard", yarn_factor=factor,
                      yarn_original_max_position_embeddings=rope["original_max_position_embeddings"],
                      yarn_beta_fast=rope.get("beta_fast") or 32.0, yarn_beta_slow=rope.get("beta_slow") or 1.0,
                      yarn_attention_factor=attention_factor)
    if kind.endswith("moe"):
        fields.update(use_moe=True, n_routed_experts=hf.get("num_experts", hf.get("num_local_experts")),
                      num_experts_per_tok=hf["num_experts_per_tok"], intermediate_size=hf["moe_intermediate_size"],
                      n_shared_experts=0, seq_aux=False, norm_topk_prob=hf.get("norm_topk_prob", False),
                      norm_top1_prob=True, aux_loss_alpha=hf.get("router_aux_loss_coef", 0.001))
    if kind == "qwen2_moe":
        shared, width = hf.get("shared_expert_intermediate_size", 0), hf["moe_intermediate_size"]
        if not shared or shared % width:
            raise MiniMindError(f"{where}: a shared expert of width {shared} is not a whole number of experts "
                                f"of width {width}", hint="MiniMind2's shared experts are as wide as its routed ones")
        fields["n_shared_experts"] = shared // width
    return MiniMindConfig(**fields)


def state_from_hf(state: dict[str, torch.Tensor], config: MiniMindConfig, where: Path) -> dict[str, torch.Tensor]:
    """transformers' tensors under MiniMind's names: fused experts split, Qwen2-MoE's shared expert undone."""
    out: dict[str, torch.Tensor] = {}
    width = config.intermediate_size
    for key, value in state.items():
        fused = re.fullmatch(r"(model\.layers\.\d+\.mlp\.experts)\.(gate_up_proj|down_proj)", key)
        if fused:  # transformers 5 in memory: (E, 2I, C) gate then up, and (E, C, I)
            prefix, name = fused.groups()
            for e, w in enumerate(value):
                if name == "gate_up_proj":
                    out[f"{prefix}.{e}.gate_proj.weight"], out[f"{prefix}.{e}.up_proj.weight"] = w[:width], w[width:]
                else:
                    out[f"{prefix}.{e}.down_proj.weight"] = w
        elif ".mlp.shared_expert." in key:
            layer, name = key.split(".mlp.shared_expert.")
            gate = state.get(layer + SHARED_GATE)
            if gate is None or bool(gate.any()):
                raise MiniMindError(f"{where}: the shared expert of {layer} has a gate that depends on the input",
                                    hint="MiniMind2's shared experts are ungated; this is not a MiniMind model")
            down = name.startswith("down_proj")
            for s, part in enumerate(value.split(width, dim=1 if down else 0)):
                out[f"{layer}.mlp.shared_experts.{s}.{name}"] = part / 2 if down else part
        elif not key.endswith(SHARED_GATE):
            out[key] = value
    return out
