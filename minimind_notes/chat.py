"""Load a model for chat or evaluation by stage name or path, and stream replies."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from minimind_notes.data.tokenizer import MiniMindTokenizer
from minimind_notes.errors import MiniMindError
from minimind_notes.model import SamplingConfig, stream_generate

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")


def resolve_weights(name: str, save_dir: str | Path = "out") -> Path:
    """A checkpoint path (a file, or a transformers folder), or a stage name: out/<name>_<hidden>[_moe][.safetensors|
    .pth] (one match; `full_sft` does not match `full_sft_b_192`)."""
    path = Path(name)
    if path.is_file() or path.is_dir():  # a folder: load_model reads a transformers folder, or says what it lacks
        return path
    if path.exists() or path.suffix in WEIGHT_SUFFIXES or len(path.parts) > 1:  # meant as a path
        from minimind_notes.data.jsonl import require_file

        require_file(path, "checkpoint")  # raises: no such file
    own = re.compile(rf"{re.escape(name)}_\d+(_moe)?\.(safetensors|pth)")
    found = sorted(p for p in Path(save_dir).glob(f"{name}_*") if own.fullmatch(p.name))
    if len(found) == 1:
        return found[0]
    if not found:
        raise MiniMindError(f"no weights named {name!r}: neither a file nor {save_dir}/{name}_*.safetensors",
                            hint="train it first (minimind train ...), or pass a path to a .safetensors/.pth")
    raise MiniMindError(f"several weights match {name!r}: {', '.join(map(str, found))}",
                        hint="pass the path of the one you mean")


# Where the official tokenizer of each generation comes from (catalogue entries; tests check they exist).
OFFICIAL_TOKENIZER_ENTRY = {"MiniMind2": "minimind2-weights", "minimind-3": "minimind-3-tokenizer"}


def check_tokenizer(path: Path, meta: dict[str, str], tok: MiniMindTokenizer) -> None:
    """Refuse a tokenizer whose vocabulary is not the one the checkpoint's metadata records."""
    if "tokenizer_vocab" in meta and meta["tokenizer_vocab"] != tok.vocab_hash:
        raise MiniMindError(
            f"{path} was trained with tokenizer {meta.get('tokenizer_name', '?')} (vocabulary "
            f"{meta['tokenizer_vocab']}), not with {tok.describe()} from {tok.path}: its token ids mean other text",
            hint="pass the tokenizer it was trained with (--tokenizer DIR)")


def tokenizer_for_weights(path: Path, tokenizer: str | None, generation: str) -> tuple[MiniMindTokenizer, str | None]:
    """The tokenizer `path` was trained with, and a line saying which one was picked where the file does not say.

    minimind-notes checkpoints record theirs (metadata `tokenizer_name`, `tokenizer_vocab`): `tokenizer` must
    match it. Official `.pth` weights (`generation`: what their tensors show) record nothing and need the
    official tokenizer of their generation: `tokenizer`, else the tokenizer.json beside them (where
    `minimind data download` puts it), never this project's own, which shares few ids with either.
    """
    from minimind_notes.data.tokenizer import default_tokenizer_dir
    from minimind_notes.model.checkpoint import read_metadata

    if path.suffix not in (".pth", ".pt"):  # ours (safetensors), or a transformers folder (with its tokenizer)
        own = path.is_dir() and tokenizer is None and (path / "tokenizer.json").is_file()
        tok = MiniMindTokenizer.from_dir(path if own else tokenizer)
        check_tokenizer(path, read_metadata(path) if path.is_file() else {}, tok)
        return tok, None
    family = "minimind-3" if generation.startswith("minimind-3") else "MiniMind2"
    get_it = f"`minimind data download {OFFICIAL_TOKENIZER_ENTRY[family]} --dir {path.parent}` fetches it"
    if tokenizer is None and not (path.parent / "tokenizer.json").is_file():
        raise MiniMindError(f"{path} holds official {generation} weights, which need {family}'s own tokenizer, "
                            f"and there is none beside them ({path.parent / 'tokenizer.json'})",
                            hint=f"{get_it} (with the weights), or pass its folder with --tokenizer DIR")
    tok = MiniMindTokenizer.from_dir(tokenizer or path.parent)
    shipped = default_tokenizer_dir() / "tokenizer.json"
    ours = shipped.is_file() and tok.vocab_hash == MiniMindTokenizer.from_dir(shipped).vocab_hash
    if tok.generation != family or ours:
        raise MiniMindError(f"{path} holds official {generation} weights, which need {family}'s own tokenizer, "
                            f"not {tok.describe()} from {tok.path}",
                            hint=f"{get_it}; pass its folder with --tokenizer DIR")
    return tok, f"Using {tok.describe()} from {tok.path} for the official {generation} weights"


def load_for_inference(weights: str, tokenizer: str | None = None, lora: str | None = None,
                       device: str | torch.device = "cpu", save_dir: str | Path = "out",
                       say: Callable[[str], object] = lambda s: None,
                       ) -> tuple[nn.Module, MiniMindTokenizer, Path]:
    """The model (eval mode, LoRA merged if given), its tokenizer (the one the weights were trained
    with: see `tokenizer_for_weights`; `say` is told which when the weights do not record it), and
    the weights path."""
    from minimind_notes.model.checkpoint import generation_of, load_model, read_metadata, read_state_dict

    path = resolve_weights(weights, save_dir)
    model = load_model(path)
    tok, picked = tokenizer_for_weights(path, tokenizer, generation_of(model.state_dict()))
    if picked:
        say(picked)
    if model.config.vocab_size != tok.vocab_size:
        raise MiniMindError(f"{path} has a vocabulary of {model.config.vocab_size} tokens but the tokenizer "
                            f"has {tok.vocab_size}", hint="pass the tokenizer it was trained with (--tokenizer DIR)")
    if lora:
        from minimind_notes.model.lora import apply_lora, load_lora_state_dict, merge_lora

        lora_path = resolve_weights(lora, save_dir)
        adapters = read_state_dict(lora_path)
        check_tokenizer(lora_path, read_metadata(lora_path), tok)
        rank = next((v.shape[0] for k, v in adapters.items() if k.endswith("lora_A")), None)
        if rank is None:
            raise MiniMindError(f"--lora {lora_path} holds no LoRA adapters (no *.lora_A tensors)",
                                hint="pass the file `minimind train lora` wrote, or leave out --lora")
        alpha = float(read_metadata(lora_path).get("lora_alpha", 2.0 * rank))  # older files: the default
        apply_lora(model, rank=rank, alpha=alpha)
        load_lora_state_dict(model, adapters)
        merge_lora(model)
    return model.to(device).eval(), tok, path


@dataclass
class Reply:
    text: str
    tokens: int
    seconds: float

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / max(self.seconds, 1e-9)


def reply_pieces(model: nn.Module, tok: MiniMindTokenizer, prompt_ids: Sequence[int], cfg: SamplingConfig,
                 generator: torch.Generator | None = None, skip_special_tokens: bool = True,
                 ) -> Iterator[tuple[int, str]]:
    """(tokens generated so far, the new piece of text) after each token: the piece as soon as it decodes
    cleanly ('' while a multi-byte character is incomplete), the rest at the end. Closing the iterator
    stops the generation (the server does so when its client goes away)."""
    device = next(model.parameters()).device
    ids = torch.tensor([list(prompt_ids)], device=device)
    out: list[int] = []
    shown = ""
    for token in stream_generate(model, ids, cfg=cfg, generator=generator):
        if cfg.eos_token_id is not None and int(token[0]) == cfg.eos_token_id:
            break
        out.append(int(token[0]))
        text = tok.decode(out, skip_special_tokens=skip_special_tokens)
        piece = "" if text.endswith("\ufffd") else text[len(shown):]  # wait for the rest of a multi-byte character
        shown += piece
        yield len(out), piece
    text = tok.decode(out, skip_special_tokens=skip_special_tokens)
    if len(text) > len(shown):
        yield len(out), text[len(shown):]


def stream_reply(model: nn.Module, tok: MiniMindTokenizer, prompt_ids: Sequence[int], cfg: SamplingConfig,
                 on_text: Callable[[str], None] = lambda s: None,
                 generator: torch.Generator | None = None) -> Reply:
    """Generate, calling on_text with each new piece of text as soon as it decodes cleanly. minimind-3's
    markers stay in the text (<think>, </think>, <tool_call>: `tool_calls.parse_reply` reads them)."""
    tokens, pieces = 0, []
    start = time.perf_counter()
    keep_markers = tok.generation == "minimind-3"
    for step in reply_pieces(model, tok, prompt_ids, cfg, generator, skip_special_tokens=not keep_markers):
        tokens, piece = step  # the last count is the reply's length
        if piece:
            on_text(piece)
            pieces.append(piece)
    return Reply("".join(pieces), tokens, time.perf_counter() - start)


@dataclass
class FittedPrompt:
    ids: list[int]
    note: str | None = None  # one line: what was left out to fit, if anything


def fit_chat(tok: MiniMindTokenizer, messages: Sequence[dict[str, Any]], budget: int,
             tools: Sequence[dict[str, Any]] | None = None, **variables: Any) -> FittedPrompt:
    """The conversation and the reply prompt in the tokenizer's chat template (the ids SFT trained on: see
    `MiniMindTokenizer.chat_ids`) in at most `budget` tokens: the oldest messages go first (a system
    message and the tool definitions stay); if the newest message alone is too long, its end stays.
    `variables` go to the template (minimind-3: open_thinking=True starts the reply with its reasoning)."""
    from minimind_notes.data.chat import chat_turns

    chat_turns(messages, default_system=None)  # checks the roles and contents

    def ids_of(kept: list[dict[str, Any]]) -> list[int]:
        return tok.apply_chat_template(kept, True, tokenize=True, tools=tools, **variables)

    system = list(messages[:1]) if messages and messages[0].get("role") == "system" else []
    turns = list(messages[len(system):])
    ids = full = ids_of(system + turns)
    notes, dropped = [], 0
    while len(turns) > 1 and len(ids) > budget:
        turns, dropped = turns[1:], dropped + 1
        while len(turns) > 1 and turns[0].get("role") != "user":  # the kept part starts with what a user said
            turns, dropped = turns[1:], dropped + 1
        ids = ids_of(system + turns)
    if dropped:
        notes.append(f"dropped the {dropped} oldest message(s) ({len(full) - len(ids)} tokens)")
    if len(ids) > budget:
        *earlier, newest = system + turns
        around = ids_of([*earlier, {**newest, "content": ""}])  # everything but the newest message's text
        if not turns or len(around) >= budget:
            raise MiniMindError(f"the system message, the tool definitions and the reply prompt ({len(around)} "
                                f"tokens) leave no room for a message in {budget} tokens",
                                hint="shorten the system message, or lower --max-new-tokens")
        content_ids = tok.encode_plain(newest["content"])
        keep = budget - len(around)
        while True:  # the kept text is encoded again in its place: a few ids may merge otherwise
            text = tok.decode(content_ids[-keep:]).lstrip("\ufffd")  # no half of a character at the start
            ids = ids_of([*earlier, {**newest, "content": text}])
            if len(ids) <= budget or keep == 1:
                break
            keep = max(1, keep - (len(ids) - budget))
        notes.append(f"kept the last {keep} of the {len(content_ids)} tokens of the newest message")
    return FittedPrompt(ids, "; ".join(notes) + f" to fit {budget} tokens" if notes else None)


def fit_text(tok: MiniMindTokenizer, text: str, budget: int) -> FittedPrompt:
    """<|im_start|> and the text to continue, its end kept when it is longer than `budget` tokens."""
    ids = tok.encode_plain(text)
    if len(ids) + 1 <= budget:
        return FittedPrompt([tok.bos_token_id, *ids])
    kept = ids[len(ids) + 1 - budget:]
    return FittedPrompt([tok.bos_token_id, *kept], f"kept the last {len(kept)} of the {len(ids)} tokens of the "
                                                    f"text to fit {budget} tokens")


def prompt_budget(window: int, max_new_tokens: int) -> int:
    """Tokens the prompt may take of the model's window: the rest is room for the reply (at most half)."""
    return window - min(max(max_new_tokens, 1), window // 2)


def is_chat_model(path: Path) -> bool:
    """Pretrained weights continue text; later stages answer in the chat template."""
    return not path.name.startswith("pretrain")
