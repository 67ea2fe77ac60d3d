"""Export a MiniMind as a Hugging Face transformers folder (config.json, model.safetensors,
generation_config.json), under the architecture that computes the same function (`hf_format.py`).
The tokenizer files are copied from a tokenizer folder as they are (what they hold, chat template
included, is the tokenizer's business, not the model's).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from torch import nn

from minimind_notes.errors import MiniMindError
from minimind_notes.fileio import atomic_path, atomic_write_text, check_writable_folder
from minimind_notes.model.config import MiniMindConfig
from minimind_notes.model.hf_format import hf_config, hf_state_dict

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")


def check_export_target(out_dir: str | os.PathLike, overwrite: bool = False) -> Path:
    """`out_dir` as a Path if export may write there: a new or empty folder (any folder with
    `overwrite`) that can be written; else one MiniMindError, before anything is loaded or written."""
    out = Path(out_dir)
    new_folder = "pass a new folder name (export writes config.json and model.safetensors into it)"
    if out.exists() and not out.is_dir():
        raise MiniMindError(f"export target {out} is a file, not a folder", hint=new_folder)
    held = sorted(p.name for p in out.iterdir()) if out.is_dir() and not overwrite else []
    if held:
        raise MiniMindError(f"export target {out} is not empty (it holds {', '.join(held[:4])}"
                            f"{', ...' if len(held) > 4 else ''})",
                            hint=new_folder.replace("pass", "pass --overwrite to write over its files, or", 1))
    return check_writable_folder(out, hint=new_folder)


def export_hf(model: nn.Module, out_dir: str | os.PathLike,
              tokenizer_dir: str | os.PathLike | None = None, overwrite: bool = False) -> Path:
    """Write config.json, model.safetensors, generation_config.json (+ the tokenizer's files) loadable
    with transformers' AutoModelForCausalLM into a new or empty folder (any folder with `overwrite`).
    A model no transformers architecture computes is refused."""
    from safetensors.torch import save_file

    from minimind_notes.model.generation import SamplingConfig

    config: MiniMindConfig = model.config
    hf = hf_config(config)  # refuses before anything is written
    out = check_export_target(out_dir, overwrite)
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
