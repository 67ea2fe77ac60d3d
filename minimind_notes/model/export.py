"""Export a dense MiniMind model as a Hugging Face `LlamaForCausalLM` folder.

MiniMind2 *is* a Llama: same RMSNorm, rotate-half RoPE, GQA, SwiGLU and parameter names.
So export is a config.json plus the weights under the names they already have.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from torch import nn

from minimind_notes.errors import MiniMindError
from minimind_notes.fileio import atomic_write_text
from minimind_notes.model.checkpoint import save_checkpoint
from minimind_notes.model.config import MiniMindConfig


def llama_config(config: MiniMindConfig) -> dict:
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size,
        "num_hidden_layers": config.num_hidden_layers,
        "num_attention_heads": config.num_attention_heads,
        "num_key_value_heads": config.num_key_value_heads,
        "head_dim": config.head_dim,
        "vocab_size": config.vocab_size,
        "max_position_embeddings": config.max_position_embeddings,
        "rms_norm_eps": config.rms_norm_eps,
        "rope_theta": config.rope_theta,
        "rope_parameters": {"rope_type": "default", "rope_theta": config.rope_theta},
        "hidden_act": config.hidden_act,
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": config.tie_word_embeddings,
        "bos_token_id": config.bos_token_id,
        "eos_token_id": config.eos_token_id,
        "pad_token_id": config.pad_token_id,
        "torch_dtype": "float32",
    }


def export_hf(model: nn.Module, out_dir: str | os.PathLike,
              tokenizer_dir: str | os.PathLike | None = None) -> Path:
    """Write config.json + model.safetensors (+ tokenizer files) loadable by transformers."""
    config: MiniMindConfig = model.config
    if config.use_moe:
        raise MiniMindError("only dense models export to LlamaForCausalLM (this one is MoE)")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise MiniMindError(f"export target {out} is a file, not a folder",
                            hint="pass a new folder name (export writes config.json and model.safetensors into it)")
    if tokenizer_dir is not None and not (Path(tokenizer_dir) / "tokenizer.json").is_file():
        raise MiniMindError(f"no tokenizer.json in {tokenizer_dir}", hint="pass the folder that holds tokenizer.json")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.json", json.dumps(llama_config(config), indent=2))
    save_checkpoint(model, out / "model.safetensors")
    if tokenizer_dir is not None:
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            if (Path(tokenizer_dir) / name).is_file():
                shutil.copy2(Path(tokenizer_dir) / name, out / name)
    return out
