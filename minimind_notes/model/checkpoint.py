"""Checkpoint I/O: read `.pth` (MiniMind's official format), `.safetensors` and transformers
folders, tell MiniMind2 from minimind-3 by the tensors, write safetensors atomically, and explain a
mismatch in one message instead of a traceback.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from minimind_notes.data.jsonl import require_file
from minimind_notes.errors import MiniMindError
from minimind_notes.fileio import atomic_path
from minimind_notes.model.config import MINIMIND3, MINIMIND3_MOE, MiniMindConfig
from minimind_notes.model.hf_format import config_from_hf, state_from_hf

WRAPPER_PREFIXES = ("_orig_mod.", "module.")  # added by torch.compile and by DDP


class CheckpointMismatch(MiniMindError):
    pass


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a `.safetensors` or `.pth`/`.pt`/`.bin` file, on CPU, wrapper prefixes removed."""
    path = require_file(path, "checkpoint")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch_load(path, "checkpoint")
    except MiniMindError:
        raise
    except Exception as e:  # a corrupt or foreign file: say which and why, no traceback
        raise unreadable(path, e) from e
    if not isinstance(state, dict):
        raise MiniMindError(f"cannot read checkpoint {path}: it holds a {type(state).__name__}, not named tensors",
                            hint=CHECKPOINT_HINT)
    for key in ("model", "state_dict"):  # {'model': sd, 'optimizer': ...} style files
        if isinstance(state.get(key), dict):
            state = state[key]
    return {strip_prefixes(k): v for k, v in state.items() if isinstance(v, torch.Tensor)}


CHECKPOINT_HINT = ("pass a complete .safetensors file, or a .pth saved with torch.save(model.state_dict()); "
                   "a file cut short by an interrupted copy or download must be fetched again")


def torch_load(path: Path, what: str, map_location: str | torch.device = "cpu") -> Any:
    """torch.load with weights_only=True: tensors and plain data only, so no file loaded here can run code.
    A file that holds other Python objects is refused in one message (never torch's advice to load it unsafely)."""
    import pickle
    import warnings

    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol of foreign files
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        if not is_pickle(path):  # weights_only words every failure alike; garbage is not a payload
            raise
        raise MiniMindError(
            f"refused to load {what} {path}: it holds Python objects, not only tensors and numbers. A file made "
            "to run code looks like this; nothing in it was run",
            hint="delete it; files written by torch.save(model.state_dict()) or by minimind-notes never hold "
                 "such objects") from None


def is_pickle(path: Path) -> bool:
    """True when the file (or a torch.save zip's data.pkl) is a complete pickle stream."""
    import pickletools
    import zipfile

    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith("data.pkl")]
            data = z.read(names[0]) if names else b""
    else:
        data = Path(path).read_bytes()
    try:
        for _ in pickletools.genops(data):
            pass
    except Exception:  # any parse failure means "not a pickle"
        return False
    return bool(data)


def unreadable(path: Path, e: Exception) -> MiniMindError:
    """One line for a file that torch or safetensors cannot read (their messages run to paragraphs, and
    torch's suggests turning its weights-only check off, which is never the fix here)."""
    import pickle

    text = str(e)
    if isinstance(e, pickle.UnpicklingError):
        reason = "not a PyTorch checkpoint (neither a torch.save archive nor a pickle of tensors)"
    elif isinstance(e, EOFError) or "zip archive" in text or "miniz" in text:
        reason = "the file is cut short or damaged (an incomplete torch.save archive)"
    else:
        reason = next(iter(text.strip().splitlines()), type(e).__name__)
    return MiniMindError(f"cannot read checkpoint {path}: {reason}", hint=CHECKPOINT_HINT)


def strip_prefixes(key: str) -> str:
    for prefix in WRAPPER_PREFIXES:
        while key.startswith(prefix):
            key = key[len(prefix):]
    return key


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The string metadata of a safetensors file ({} for other formats)."""
    path = require_file(path, "checkpoint")
    if path.suffix != ".safetensors":
        return {}
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except Exception as e:  # a truncated or foreign file
        raise unreadable(path, e) from e


def read_config(path: str | os.PathLike) -> MiniMindConfig | None:
    """The config stored in a safetensors file's metadata by `save_checkpoint`, if any."""
    meta = read_metadata(path)
    if "config" not in meta:
        return None
    try:
        return MiniMindConfig.from_dict(json.loads(meta["config"]))
    except (ValueError, TypeError, AttributeError) as e:  # edited by hand, or written by another program
        raise MiniMindError(f"checkpoint {path}: its stored model config is invalid ({e})",
                            hint="re-save the weights with minimind, or remove the 'config' metadata") from e


def infer_config(state: dict[str, torch.Tensor], num_attention_heads: int = 8) -> dict:
    """The MiniMindConfig fields that a state dict implies.

    q_norm marks minimind-3: it adds minimind-3's fields that shapes do not show (eps, YaRN,
    routing), and its length is the head dimension, so heads = q_proj rows / head_dim. Without it
    the checkpoint is MiniMind2's, whose head count is assumed (`num_attention_heads`).
    """
    embed = state.get("model.embed_tokens.weight", state.get("lm_head.weight"))
    if embed is None:
        return {}
    vocab_size, hidden = embed.shape
    layers = {int(m.group(1)) for k in state if (m := re.match(r"model\.layers\.(\d+)\.", k))}
    cfg: dict[str, Any] = {"vocab_size": vocab_size, "hidden_size": hidden, "num_hidden_layers": len(layers)}
    q_norm = state.get("model.layers.0.self_attn.q_norm.weight")
    q_proj = state.get("model.layers.0.self_attn.q_proj.weight")
    k_proj = state.get("model.layers.0.self_attn.k_proj.weight")
    head_dim = hidden // num_attention_heads
    if q_norm is not None:
        head_dim = q_norm.shape[0]
        cfg.update(MINIMIND3, head_dim=head_dim)
        if q_proj is not None:
            cfg["num_attention_heads"] = q_proj.shape[0] // head_dim
    elif k_proj is not None:
        cfg["num_attention_heads"] = num_attention_heads
    if k_proj is not None:
        cfg["num_key_value_heads"] = k_proj.shape[0] // head_dim

    def experts(kind: str) -> set[int]:
        pattern = rf"model\.layers\.0\.mlp\.{kind}\.(\d+)\."
        return {int(m.group(1)) for k in state if (m := re.match(pattern, k))}

    routed, shared = experts("experts"), experts("shared_experts")
    up = next((v for k, v in state.items() if k.startswith("model.layers.0.mlp") and "up_proj" in k), None)
    if up is not None:
        cfg["intermediate_size"] = up.shape[0]
    if routed:
        if q_norm is not None:
            cfg.update(MINIMIND3_MOE)
        cfg.update(use_moe=True, n_routed_experts=len(routed), n_shared_experts=len(shared))
    return cfg


def generation_of(state: dict[str, torch.Tensor]) -> str:
    """Which MiniMind a state dict is, by its keys: QK-norm came with minimind-3."""
    moe = any(re.match(r"model\.layers\.\d+\.mlp\.experts\.", k) for k in state)
    if "model.layers.0.self_attn.q_norm.weight" in state:
        return "minimind-3-moe" if moe else "minimind-3"
    return "MiniMind2-MoE" if moe else "MiniMind2"


def check_state_dict(
    expected: dict[str, torch.Tensor], got: dict[str, torch.Tensor], what: str = "checkpoint",
    config: MiniMindConfig | None = None,
) -> None:
    """Raise CheckpointMismatch naming missing, unexpected and mis-shaped keys."""
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    misshaped = [f"{k}: checkpoint {tuple(got[k].shape)} vs model {tuple(expected[k].shape)}"
                 for k in expected if k in got and got[k].shape != expected[k].shape]
    if not (missing or unexpected or misshaped):
        return

    def show(title: str, items: list[str]) -> str:
        more = f" (+{len(items) - 6} more)" if len(items) > 6 else ""
        return f"\n  {title} ({len(items)}): " + ", ".join(items[:6]) + more if items else ""

    message = (f"{what} does not fit the model"
               + show("missing", missing) + show("unexpected", unexpected)
               + show("mis-shaped", misshaped))
    hint = None
    fitting = infer_config(got)
    if fitting and config is not None:
        generation, wanted = generation_of(got), generation_of(expected)
        if generation.startswith("minimind-3") != wanted.startswith("minimind-3"):
            build = f"preset('{generation}')" if generation.startswith("minimind-3") else "a MiniMind2 config"
            hint = (f"it is a {generation} checkpoint but the model is {wanted}: load it with load_model(path) "
                    f"and no config (it reads the generation from the weights), or build the model from {build}")
        elif differs := {k: v for k, v in fitting.items() if getattr(config, k, None) != v}:
            hint = "the checkpoint fits a model with " + ", ".join(f"{k}={v}" for k, v in differs.items())
    raise CheckpointMismatch(message, hint or "was it saved from a different model or stage?")


def load_weights(model: nn.Module, path_or_state: str | os.PathLike | dict, what: str | None = None) -> None:
    """Load a checkpoint into `model` strictly, with a readable error on any mismatch."""
    state = (read_state_dict(path_or_state) if not isinstance(path_or_state, dict)
             else {strip_prefixes(k): v for k, v in path_or_state.items()})
    expected = model.state_dict()
    tied = getattr(getattr(model, "config", None), "tie_word_embeddings", False)
    if tied and "lm_head.weight" not in state and "model.embed_tokens.weight" in state:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]  # saved once, used twice
    what = what or (f"checkpoint {path_or_state}" if not isinstance(path_or_state, dict) else "state dict")
    check_state_dict(expected, state, what, getattr(model, "config", None))
    model.load_state_dict(state, strict=True)


def load_model(path: str | os.PathLike, config: MiniMindConfig | None = None,
               device: str | torch.device = "cpu") -> nn.Module:
    """A MiniMindForCausalLM with the weights of `path`: a `.pth` or `.safetensors` file, or a
    transformers folder (MiniMind's own, Llama, Qwen3, Qwen3-MoE, or Qwen2-MoE as `export_hf` writes it).

    The config comes from `config`, else from the file's metadata or the folder's config.json,
    else is inferred from the tensor names and shapes (MiniMind2 or minimind-3)."""
    from minimind_notes.model.model import MiniMindForCausalLM

    folder = transformers_folder(path)
    if folder is not None:
        folder_config, state = read_transformers_folder(folder)
        config = config or folder_config
    else:
        state = read_state_dict(path)
        config = config or read_config(path) or MiniMindConfig(**infer_config(state))
    model = MiniMindForCausalLM(config)
    load_weights(model, state, what=f"checkpoint {path}")
    return model.to(device)


def save_checkpoint(model: nn.Module, path: str | os.PathLike,
                    metadata: dict[str, str] | None = None) -> Path:
    """Write the weights (tied lm_head stored once) and the config to a safetensors file."""
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    config = getattr(model, "config", None)
    if getattr(config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)
    meta = {"format": "pt", **(metadata or {})}
    if isinstance(config, MiniMindConfig):
        meta["config"] = json.dumps(config.to_dict())
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
    return Path(path)


# -- reading a transformers folder ---------------------------------------------------------------

# What a "minimind" config.json holds beyond the sizes, which the tensors tell.
MINIMIND_JSON_FIELDS = ("rms_norm_eps", "rope_theta", "max_position_embeddings", "hidden_act", "tie_word_embeddings",
                        "bos_token_id", "eos_token_id", "pad_token_id", "dropout", "flash_attn",
                        "inference_rope_scaling", "num_experts_per_tok", "norm_topk_prob", "aux_loss_alpha", "seq_aux")
YARN_KEYS = ("factor", "original_max_position_embeddings", "beta_fast", "beta_slow", "attention_factor")


def transformers_folder(path: str | os.PathLike) -> Path | None:
    """The transformers folder `path` names: the path itself when it is a folder, or the folder of a
    weights file beside a transformers config.json that holds no MiniMind config of its own."""
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
    rope = hf.get("rope_scaling") or {}
    given = {**{k: hf.get(k) for k in MINIMIND_JSON_FIELDS}, "aux_loss_alpha": hf.get("router_aux_loss_coef"),
             **{f"yarn_{k}": rope.get(k) for k in YARN_KEYS}}
    inferred = infer_config(state, hf.get("num_attention_heads", 8))
    return MiniMindConfig(**{**inferred, **{k: v for k, v in given.items() if v is not None}})
