"""Export a MiniMind as a Hugging Face transformers folder (config.json, model.safetensors,
generation_config.json), under the architecture that computes the same function (`hf_format.py`),
with the tokenizer the weights were trained with: its tokenizer.json and a tokenizer_config.json that
holds its chat template, so that AutoTokenizer.apply_chat_template renders what this project renders.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from minimind_notes.errors import MiniMindError
from minimind_notes.fileio import atomic_path, atomic_write_text, check_writable_folder
from minimind_notes.model.config import MiniMindConfig
from minimind_notes.model.hf_format import hf_config, hf_state_dict

if TYPE_CHECKING:
    from minimind_notes.data.tokenizer import MiniMindTokenizer


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


def export_hf(model: nn.Module, out_dir: str | os.PathLike, tokenizer: MiniMindTokenizer | None = None,
              overwrite: bool = False) -> Path:
    """Write config.json, model.safetensors, generation_config.json (+ the tokenizer's files) loadable
    with transformers' AutoModelForCausalLM (and AutoTokenizer) into a new or empty folder (any folder with
    `overwrite`). A model no transformers architecture computes is refused."""
    from safetensors.torch import save_file

    from minimind_notes.model.generation import default_sampling

    config: MiniMindConfig = model.config
    hf = hf_config(config)  # refuses before anything is written
    out = check_export_target(out_dir, overwrite)
    if tokenizer is not None and tokenizer.vocab_size > config.vocab_size:
        raise MiniMindError(f"tokenizer {tokenizer.path} has {tokenizer.vocab_size} tokens, more than the "
                            f"{config.vocab_size} rows of the model's embedding",
                            hint="pass the tokenizer the model was trained with")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.json", json.dumps(hf, indent=2))
    # what `minimind chat` samples with for this model, so that HF's generate() does the same
    sampling = default_sampling(sum(p.numel() for p in model.parameters()))
    atomic_write_text(out / "generation_config.json", json.dumps({
        "bos_token_id": config.bos_token_id, "eos_token_id": config.eos_token_id, "pad_token_id": config.pad_token_id,
        "do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p}, indent=2))
    with atomic_path(out / "model.safetensors") as tmp:
        save_file(hf_state_dict(model), str(tmp), metadata={"format": "pt"})
    if tokenizer is not None:
        write_tokenizer(tokenizer, out)
    return out


def write_tokenizer(tok: MiniMindTokenizer, out: Path) -> None:
    """tokenizer.json as it is, and tokenizer_config.json with the tokenizer's own chat template (a folder that
    has none, like the official .pth releases' tokenizer.json alone, gets its generation's)."""
    from minimind_notes.data.chat import BOS, EOS, PAD

    source = tok.path
    with atomic_path(out / "tokenizer.json") as tmp:  # copyfile, not copy2: no read-only mode carried over
        shutil.copyfile(source / "tokenizer.json", tmp)
    config: dict[str, Any] = {}
    if (source / "tokenizer_config.json").is_file():
        try:
            config = json.loads((source / "tokenizer_config.json").read_text(encoding="utf-8"))
        except ValueError as e:
            raise MiniMindError(f"cannot read {source / 'tokenizer_config.json'}: {e}",
                                hint="fix or delete the file") from e
    defaults = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": BOS, "eos_token": EOS, "pad_token": PAD,
                "unk_token": PAD, "add_bos_token": False, "add_eos_token": False,
                "clean_up_tokenization_spaces": False}
    config = {**defaults, **config, "chat_template": tok.chat_template}
    atomic_write_text(out / "tokenizer_config.json", json.dumps(config, indent=2, ensure_ascii=False))
    (out / "chat_template.jinja").unlink(missing_ok=True)  # an older export's would win over the config's
