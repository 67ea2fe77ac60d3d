"""MiniMind <-> Hugging Face transformers: export a model as a transformers folder, read one back.

Every MiniMind is a transformers architecture, most under the very same parameter names:
- MiniMind2 dense is a `LlamaForCausalLM` (RMSNorm, rotate-half RoPE, GQA, SwiGLU).
- minimind-3 is a `Qwen3ForCausalLM` (Llama plus QK-norm), its MoE a `Qwen3MoeForCausalLM`
  (softmax router, top-k weights renormalised, no shared expert).
- MiniMind2-MoE (softmax top-2, renormalised, plus shared experts that every token passes through
  with weight 1) is a `Qwen2MoeForCausalLM`, whose one shared expert has a sigmoid gate: with the
  gate's weights at zero the gate is sigmoid(0) = 0.5 exactly, so the shared experts are written
  side by side as one wider FFN with down_proj doubled, and 0.5 * (2 W h) equals W h in floating
  point (scaling by a power of two rounds nothing).
The folder holds config.json, model.safetensors and generation_config.json; the tokenizer files
are copied from a tokenizer folder as they are (what they hold, chat template included, is the
tokenizer's business, not the model's).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from minimind_notes.errors import MiniMindError
from minimind_notes.fileio import atomic_path, atomic_write_text
from minimind_notes.model.config import MINIMIND3, MiniMindConfig

ARCHITECTURES = {"llama": "LlamaForCausalLM", "qwen3": "Qwen3ForCausalLM", "qwen3_moe": "Qwen3MoeForCausalLM",
                 "qwen2_moe": "Qwen2MoeForCausalLM"}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")
SHARED_GATE = ".mlp.shared_expert_gate.weight"  # Qwen2-MoE's gate on its shared expert
# What a "minimind" config.json holds beyond the sizes, which the tensors tell.
MINIMIND_JSON_FIELDS = ("rms_norm_eps", "rope_theta", "max_position_embeddings", "hidden_act", "tie_word_embeddings",
                        "bos_token_id", "eos_token_id", "pad_token_id", "dropout", "flash_attn",
                        "inference_rope_scaling", "num_experts_per_tok", "norm_topk_prob", "aux_loss_alpha", "seq_aux")
YARN_KEYS = ("factor", "original_max_position_embeddings", "beta_fast", "beta_slow", "attention_factor")


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


def export_hf(model: nn.Module, out_dir: str | os.PathLike,
              tokenizer_dir: str | os.PathLike | None = None) -> Path:
    """Write config.json, model.safetensors, generation_config.json (+ the tokenizer's files) loadable
    with transformers' AutoModelForCausalLM. A model no transformers architecture computes is refused."""
    from safetensors.torch import save_file

    from minimind_notes.model.generation import SamplingConfig

    config: MiniMindConfig = model.config
    hf = hf_config(config)  # refuses before anything is written
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise MiniMindError(f"export target {out} is a file, not a folder",
                            hint="pass a new folder name (export writes config.json and model.safetensors into it)")
    if tokenizer_dir is not None and not (Path(tokenizer_dir) / "tokenizer.json").is_file():
        raise MiniMindError(f"no tokenizer.json in {tokenizer_dir}", hint="pass the folder that holds tokenizer.json")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.json", json.dumps(hf, indent=2))
    sampling = SamplingConfig()  # what `minimind chat` samples with, so that HF's generate() does the same
    atomic_write_text(out / "generation_config.json", json.dumps({
        "bos_token_id": config.bos_token_id, "eos_token_id": config.eos_token_id, "pad_token_id": config.pad_token_id,
        "do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p}, indent=2))
    with atomic_path(out / "model.safetensors") as tmp:
        save_file(hf_state_dict(model), str(tmp), metadata={"format": "pt"})
    if tokenizer_dir is not None:
        for name in TOKENIZER_FILES:
            if (Path(tokenizer_dir) / name).is_file():
                with atomic_path(out / name) as tmp:  # copyfile, not copy2: no read-only mode carried over
                    shutil.copyfile(Path(tokenizer_dir) / name, tmp)
    return out


# -- reading a transformers folder ---------------------------------------------------------------


def transformers_folder(path: str | os.PathLike) -> Path | None:
    """The transformers folder `path` names: the path itself when it is a folder, or the folder of a
    weights file beside a transformers config.json that holds no MiniMind config of its own."""
    from minimind_notes.model.checkpoint import read_metadata

    path = Path(path)
    if path.is_dir():
        return path
    config_json = path.parent / "config.json"
    if not (path.suffix in (".safetensors", ".bin") and config_json.is_file()) or "config" in read_metadata(path):
        return None
    try:
        return path.parent if "model_type" in json.loads(config_json.read_text(encoding="utf-8")) else None
    except (ValueError, UnicodeDecodeError):  # some other program's config.json
        return None


def read_transformers_folder(folder: Path) -> tuple[MiniMindConfig, dict[str, torch.Tensor]]:
    """The MiniMind config and state dict (MiniMind's names) of a transformers folder."""
    config_json = folder / "config.json"
    if not config_json.is_file():
        raise MiniMindError(f"checkpoint {folder} is a folder without config.json",
                            hint="pass a .safetensors or .pth file, or a transformers folder "
                                 "(config.json and model.safetensors)")
    try:
        hf = json.loads(config_json.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise MiniMindError(f"cannot read {config_json}: {e}", hint="it must be the JSON transformers writes") from e
    if not isinstance(hf, dict):
        raise MiniMindError(f"cannot read {config_json}: it holds no JSON object",
                            hint="it must be the JSON transformers writes")

    def parsed(make: Callable[[], MiniMindConfig]) -> MiniMindConfig:
        try:
            return make()
        except (KeyError, TypeError, ValueError) as e:  # a field missing, of the wrong type, or out of range
            problem = f"it has no {e}" if isinstance(e, KeyError) else str(e)
            raise MiniMindError(f"cannot read {config_json}: {problem}",
                                hint="it must be the config.json transformers writes") from e

    if hf.get("model_type") == "minimind":  # MiniMind's own names: the tensors tell the shapes
        state = read_weights(folder)
        return parsed(lambda: minimind_config(hf, state)), state
    config = parsed(lambda: config_from_hf(hf, config_json))  # refuses before reading gigabytes
    return config, state_from_hf(read_weights(folder), config, folder)


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """All tensors of a transformers folder: model.safetensors or pytorch_model.bin, whole or sharded."""
    from minimind_notes.model.checkpoint import read_state_dict

    for name in ("model.safetensors", "pytorch_model.bin"):
        index = folder / f"{name}.index.json"
        if index.is_file():  # sharded: model-00001-of-0000N.safetensors ...
            try:
                files = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
            except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as e:
                raise MiniMindError(f"cannot read {index}: {e}", hint="it must map each tensor to its file") from e
            break
        if (folder / name).is_file():
            files = [name]
            break
    else:
        raise MiniMindError(f"no model.safetensors or pytorch_model.bin in {folder}",
                            hint="pass the folder save_pretrained wrote, or a single weights file")
    state: dict[str, torch.Tensor] = {}
    for name in files:
        state.update(read_state_dict(folder / name))
    return state


def minimind_config(hf: dict[str, Any], state: dict[str, torch.Tensor]) -> MiniMindConfig:
    """MiniMind's own transformers format (model_type "minimind", run there by MiniMind's remote code,
    here by this model): the tensors tell the generation and every size (the head count aside), config.json
    the rest, under MiniMind2's field names or minimind-3's (router_aux_loss_coef, a rope_scaling dict)."""
    from minimind_notes.model.checkpoint import infer_config

    rope = hf.get("rope_scaling") or {}
    given = {**{k: hf.get(k) for k in MINIMIND_JSON_FIELDS}, "aux_loss_alpha": hf.get("router_aux_loss_coef"),
             **{f"yarn_{k}": rope.get(k) for k in YARN_KEYS}}
    inferred = infer_config(state, hf.get("num_attention_heads", 8))
    return MiniMindConfig(**{**inferred, **{k: v for k, v in given.items() if v is not None}})


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
