"""MiniMind's tokenizer: byte-level BPE with Hugging Face `tokenizers`.

Layout as in MiniMind: ByteLevel pre-tokenizer without a prefix space, special tokens
<|endoftext|>=0 (pad/unk), <|im_start|>=1 (bos), <|im_end|>=2 (eos), vocab 6400. A
folder from the official MiniMind2 release (tokenizer.json) loads the same way.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from minimind_notes.data.bpe_scratch import SYMBOL_TO_BYTE
from minimind_notes.data.chat import (
    BOS,
    CHAT_TEMPLATE,
    EOS,
    MINIMIND3_CHAT_TEMPLATE,
    MINIMIND3_FIELDS,
    PAD,
    render,
    split_inline_reasoning,
)
from minimind_notes.errors import MiniMindError
from minimind_notes.fileio import atomic_write_text

if TYPE_CHECKING:
    from tokenizers import Tokenizer

SPECIAL_TOKENS = [PAD, BOS, EOS]
PLACEHOLDER = "\U000f0000"  # private use: marks a message's text while the template is rendered
# minimind-3's 36 special tokens, ids 0-35, as in MiniMind's model/tokenizer_config.json: Qwen's
# markers (3-20, unused by text models), tool calls and results, thinking, and nine spare buffers.
MINIMIND3_SPECIAL_TOKENS = [
    PAD, BOS, EOS, "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
    "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>",
    "<|video_pad|>", "<|audio_start|>", "<|audio_end|>", "<|audio_pad|>", "<tts_pad>", "<tts_text_bos>",
    "<tts_text_eod>", "<tts_text_bos_single>", "<tool_call>", "</tool_call>", "<tool_response>",
    "</tool_response>", "<think>", "</think>", *(f"<|buffer{i}|>" for i in range(1, 10)),
]
SPECIALS = {"minimind2": SPECIAL_TOKENS, "minimind-3": MINIMIND3_SPECIAL_TOKENS}
TEMPLATES = {"minimind2": CHAT_TEMPLATE, "minimind-3": MINIMIND3_CHAT_TEMPLATE}


def default_tokenizer_dir() -> Path:
    from minimind_notes.content import data_dir

    return data_dir() / "tokenizer"


class MiniMindTokenizer:
    def __init__(self, tokenizer, path: Path | None = None) -> None:  # tokenizers.Tokenizer
        self.tok = tokenizer
        self.path = path
        self.pad_token_id = self._id(PAD)
        self.bos_token_id = self._id(BOS)
        self.eos_token_id = self._id(EOS)

    def _id(self, token: str) -> int:
        token_id = self.tok.token_to_id(token)
        if token_id is None:
            raise MiniMindError(f"tokenizer {self.path or ''} has no {token} token",
                                hint="use a MiniMind tokenizer (minimind tokenizer train)")
        return token_id

    @classmethod
    def from_dir(cls, path: str | os.PathLike | None = None) -> MiniMindTokenizer:
        from tokenizers import Tokenizer

        folder = Path(path) if path else default_tokenizer_dir()
        file = folder / "tokenizer.json" if folder.is_dir() else folder
        if not file.is_file():
            raise MiniMindError(f"no tokenizer.json in {folder}",
                                hint="train one with `minimind tokenizer train` or pass --tokenizer DIR")
        try:
            return cls(Tokenizer.from_file(str(file)), file.parent)
        except Exception as e:  # a broken JSON file: say so in one line
            raise MiniMindError(f"cannot read tokenizer {file}: {e}") from e

    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        """Ids of `text`; special-token strings in it (<|im_start|>...) become their special ids, as
        pretraining corpora with these markers expect. For message content use `encode_plain`."""
        return self.tok.encode(text, add_special_tokens=False).ids

    def encode_plain(self, text: str) -> list[int]:
        """Ids of `text` with every special-token string split as ordinary characters: what a user
        typed or a data row holds can never inject <|im_start|>assistant or <|im_end|>."""
        return self.plain_tok.encode(text, add_special_tokens=False).ids

    @functools.cached_property
    def plain_tok(self) -> Tokenizer:
        """A copy of the tokenizer that encodes special-token strings as text (the flag is per object,
        so `tok` and anything derived from it, like the tiktoken twin, are left as they are)."""
        from tokenizers import Tokenizer

        spec = json.loads(self.tok.to_str())
        for added in spec.get("added_tokens", []):  # minimind-3 adds <think>, <tool_call>... as non-special
            added["special"] = True
        plain = Tokenizer.from_str(json.dumps(spec))
        plain.encode_special_tokens = True
        return plain

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Many texts at once, on all cores; the same ids as `encode`. Through tiktoken when it
        runs this BPE exactly (data/tiktoken_twin.py: about 2x faster), else through tokenizers."""
        if self.tiktoken_twin is not None:
            from minimind_notes.data.tiktoken_twin import encode_all

            return encode_all(self.tiktoken_twin, list(texts), os.cpu_count() or 1)
        return self.hf_encode_batch(texts)

    def hf_encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """tokenizers' own batch encoder (the Rust side parallelizes); no offsets computed."""
        encode = getattr(self.tok, "encode_batch_fast", self.tok.encode_batch)  # tokenizers >= 0.21
        return [e.ids for e in encode(list(texts), add_special_tokens=False)]

    def encode_plain_batch(self, texts: Sequence[str], threads: int = 0) -> list[list[int]]:
        """`encode_plain` of many texts at once, on `threads` threads (0: all cores; tiktoken's twin where it
        applies, else tokenizers, whose Rust threads TOKENIZERS_PARALLELISM governs)."""
        threads = threads or os.cpu_count() or 1
        if self.tiktoken_twin is not None:
            if threads == 1:  # no thread pool: a worker process's share
                return [self.tiktoken_twin.encode_ordinary(text) for text in texts]
            return self.tiktoken_twin.encode_ordinary_batch(list(texts), num_threads=threads)
        encode = getattr(self.plain_tok, "encode_batch_fast", self.plain_tok.encode_batch)
        return [e.ids for e in encode(list(texts), add_special_tokens=False)]

    @functools.cached_property
    def tiktoken_twin(self) -> Any:
        """A tiktoken.Encoding with exactly this tokenizer's ids, or None."""
        from minimind_notes.data.tiktoken_twin import tiktoken_twin

        return tiktoken_twin(self.tok.to_str(), reference=self.tok)

    @property
    def bulk_engine(self) -> str:
        """Which library `encode_batch` runs, with its version."""
        from importlib.metadata import version

        name = "tiktoken" if self.tiktoken_twin is not None else "tokenizers"
        return f"{name} {version(name)}"

    @functools.cached_property
    def token_bytes(self) -> list[int]:
        """Bytes of text behind each id. A byte-level token's name has one symbol per byte, and a
        special token's name is its (ASCII) text, so this is len(name): exact even for a token that
        holds half of a multi-byte character, which decoding alone would turn into U+FFFD."""
        return [len(self.tok.id_to_token(i) or "") for i in range(self.vocab_size)]

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = False) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def pieces(self, ids: Sequence[int]) -> list[str]:
        """Each token as readable text; a token that is part of a multi-byte character shows
        its bytes (e.g. <e4 bd>) instead of byte-level symbols like `ä½`."""
        from tokenizers.decoders import ByteLevel

        decoder = ByteLevel()
        out = []
        for token in (self.tok.id_to_token(i) for i in ids):
            text = decoder.decode([token])
            if "\ufffd" in text and token not in SPECIAL_TOKENS:
                raw = bytes(SYMBOL_TO_BYTE[c] for c in token)
                text = "<" + " ".join(f"{b:02x}" for b in raw) + ">"
            out.append(text)
        return out

    @functools.cached_property
    def chat_template(self) -> str:
        """The tokenizer's own Jinja template: chat_template.jinja, else tokenizer_config.json's chat_template;
        a folder with neither gets its generation's (ChatML for MiniMind2)."""
        folder = self.path
        if folder is not None and (folder / "chat_template.jinja").is_file():
            return (folder / "chat_template.jinja").read_text(encoding="utf-8")
        config = folder / "tokenizer_config.json" if folder is not None else None
        if config is not None and config.is_file():
            try:
                template = json.loads(config.read_text(encoding="utf-8")).get("chat_template")
            except (ValueError, AttributeError) as e:
                raise MiniMindError(f"cannot read {config}: {e}", hint="fix or delete the file") from e
            if isinstance(template, str):
                return template
        return MINIMIND3_CHAT_TEMPLATE if self.generation == "minimind-3" else CHAT_TEMPLATE

    def check_chat(self, messages: Sequence[dict[str, Any]], tools: Sequence[dict] | None) -> None:
        """Tool definitions, tool calls and reasoning only a minimind-3 tokenizer can show (never dropped
        silently); a special-token string in a tool definition or call would become a marker: refused."""
        where = ["tools"] if tools else []
        where += [f"message {i} has {key}" for i, m in enumerate(messages) for key in MINIMIND3_FIELDS if m.get(key)]
        if where and self.generation != "minimind-3":
            raise MiniMindError(f"{'; '.join(where)}: {self.name}'s chat template (MiniMind2's) has no place for "
                                "tools, tool calls or reasoning", hint="use a minimind-3 tokenizer (`minimind "
                                "tokenizer train --specials minimind-3`, or the official one)")
        schemas = json.dumps([tools or [], [m.get("tool_calls") or [] for m in messages]], ensure_ascii=False)
        inside = [t for t in self.tok.get_added_tokens_decoder().values() if t.content in schemas]
        if inside:
            raise MiniMindError(f"a tool definition or tool call holds the special token {inside[0].content}",
                                hint="tool names, descriptions and arguments must be plain text")

    def render_chat(self, messages: Sequence[dict[str, Any]], add_generation_prompt: bool = False,
                    tools: Sequence[dict] | None = None, **variables: Any) -> str:
        """The conversation in the tokenizer's template (open_thinking=True: the reply starts thinking)."""
        self.check_chat(messages, tools)
        return render(self.chat_template, messages, add_generation_prompt, tools=tools, **variables)

    def apply_chat_template(self, messages: Sequence[dict[str, Any]], add_generation_prompt: bool = False,
                            tokenize: bool = False, tools: Sequence[dict] | None = None,
                            **variables: Any) -> str | list[int]:
        """The rendered text, or (tokenize) its ids: the same ids as encoding the text, except that
        special-token strings inside what the messages say stay plain text."""
        if not tokenize:
            return self.render_chat(messages, add_generation_prompt, tools, **variables)
        return self.chat_ids(messages, add_generation_prompt, tools, **variables)[0]

    def chat_ids(self, messages: Sequence[dict[str, Any]], add_generation_prompt: bool = False,
                 tools: Sequence[dict] | None = None, **variables: Any) -> tuple[list[int], list[bool]]:
        """Ids of the rendered conversation and which of them an SFT loss learns: each assistant turn after
        its `<|im_start|>assistant\\n`, through its <|im_end|> (answer, <think> block and tool calls alike);
        system, user, tool definitions and tool results are context.

        Only the template's own markers become special ids: the messages' text is rendered as
        placeholders first, which tells the template's text from theirs."""
        messages = [split_inline_reasoning(m) for m in messages]
        text = self.render_chat(messages, add_generation_prompt, tools, **variables)
        own_text = self.template_own_text(messages, add_generation_prompt, tools, variables, text)
        targets = [span for k, m in enumerate(messages) if m.get("role") == "assistant"
                   for span in [self.assistant_span(messages, k, tools, variables, text)]]
        cuts = sorted({0, len(text), *(i for span in targets for i in span)})
        ids: list[int] = []
        learn: list[bool] = []
        for start, end in itertools.pairwise(cuts):
            piece_ids = self.encode_marking(text[start:end], [(a - start, b - start) for a, b in own_text])
            ids += piece_ids
            learn += [any(a <= start < b for a, b in targets)] * len(piece_ids)
        return ids, learn

    def encode_marking(self, text: str, own: list[tuple[int, int]]) -> list[int]:
        """Ids of `text` where special-token strings are markers only inside the `own` character spans."""
        ids: list[int] = []
        plain_from = 0
        for match in self.marker_pattern.finditer(text):
            if any(a <= match.start() and match.end() <= b for a, b in own):
                ids += self.encode_plain(text[plain_from:match.start()]) + [self._id(match.group())]
                plain_from = match.end()
        return ids + self.encode_plain(text[plain_from:])

    @functools.cached_property
    def marker_pattern(self) -> re.Pattern:
        tokens = sorted((t.content for t in self.tok.get_added_tokens_decoder().values()), key=len, reverse=True)
        return re.compile("|".join(map(re.escape, tokens)))

    def template_own_text(self, messages: list[dict[str, Any]], add_generation_prompt: bool,
                          tools: Sequence[dict] | None, variables: dict[str, Any], text: str) -> list[tuple[int, int]]:
        """Character spans of `text` that the template wrote (everything but the messages' own text)."""
        said: list[str] = []

        def placeholder(value: Any) -> Any:
            """A numbered mark in place of a text's core; its leading and trailing newlines stay, for the
            template to strip as it would the text's."""
            if not isinstance(value, str) or not value.strip("\n"):
                return value
            if PLACEHOLDER in value:
                raise MiniMindError(f"a message holds the character U+{ord(PLACEHOLDER):X}, which this project "
                                    "reserves", hint="remove it from the data")
            core = value.strip("\n")
            lead = value[:len(value) - len(value.lstrip("\n"))]
            said.append(core)
            return f"{lead}{PLACEHOLDER}{len(said) - 1}{PLACEHOLDER}{value[len(lead) + len(core):]}"

        marked = [{**m, **{k: placeholder(m.get(k)) for k in ("content", "reasoning_content") if k in m}}
                  for m in messages]
        parts = render(self.chat_template, marked, add_generation_prompt, tools=tools, **variables).split(PLACEHOLDER)
        own, restored, pos = [], [], 0
        for i, part in enumerate(parts):
            piece = part if i % 2 == 0 else said[int(part)]
            if i % 2 == 0:
                own.append((pos, pos + len(piece)))
            restored.append(piece)
            pos += len(piece)
        if "".join(restored) != text:
            raise MiniMindError("the chat template rewrites what a message says, so its text cannot be told from "
                                "the template's markers", hint="give an assistant's reasoning as reasoning_content")
        return own

    def assistant_span(self, messages: list[dict[str, Any]], k: int, tools: Sequence[dict] | None,
                       variables: dict[str, Any], text: str) -> tuple[int, int]:
        """Characters of assistant message k that are learned: what rendering it adds, after its
        `<|im_start|>assistant\\n` header and before the line break that follows its <|im_end|>."""
        before = render(self.chat_template, messages[:k], tools=tools, **variables)  # k=0: a default system turn
        through = render(self.chat_template, messages[:k + 1], tools=tools, **variables)
        header = f"{BOS}assistant\n"
        added = through[len(before):]
        if not (text.startswith(through) and through.startswith(before) and added.startswith(header)):
            raise MiniMindError(f"message {k}: the chat template does not render the assistant's turns one after "
                                "another, so the loss cannot tell what to learn",
                                hint="use MiniMind's chat template (ChatML, or minimind-3's)")
        return len(before) + len(header), len(through) - (1 if through.endswith("\n") else 0)

    def user_prompt_ids(self, prompt: str) -> list[int]:
        """One user turn in the chat template, ending where the assistant's reply begins."""
        return self.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                        tokenize=True)

    def message_ids(self, role: str, content: str) -> list[int]:
        """<|im_start|>role\\ncontent<|im_end|>\\n with the two markers as special ids, the rest as text."""
        return [self.bos_token_id, *self.encode_plain(f"{role}\n{content}"), self.eos_token_id, *self.newline_ids]

    @functools.cached_property
    def newline_ids(self) -> list[int]:
        return self.encode_plain("\n")

    @property
    def generation(self) -> str:
        """Which MiniMind's special tokens it has: minimind-3 added tool calls and thinking."""
        return "minimind-3" if self.tok.token_to_id("<tool_call>") is not None else "MiniMind2"

    @property
    def name(self) -> str:
        """The folder it was read from (the shipped one is `minimind-notes`)."""
        if self.path is None:
            return "unnamed"
        return "minimind-notes" if self.path.resolve() == default_tokenizer_dir().resolve() else self.path.name

    @functools.cached_property
    def vocab_hash(self) -> str:
        """sha256 of the vocabulary (every token with its id, special ones included): two tokenizers with
        the same hash turn text into the same ids; what weights record as the tokenizer they learned."""
        vocab = sorted(self.tok.get_vocab(with_added_tokens=True).items(), key=lambda item: item[1])
        return hashlib.sha256(json.dumps(vocab, ensure_ascii=False).encode()).hexdigest()[:16]

    def identity(self) -> dict[str, str]:
        """What a checkpoint's metadata records about its tokenizer."""
        return {"tokenizer_name": self.name, "tokenizer_vocab": self.vocab_hash}

    def describe(self) -> str:
        return f"{self.name} ({self.generation}, vocabulary {self.vocab_hash})"

    def fingerprint(self) -> str:
        """sha256 of the tokenizer's JSON: caches built with another tokenizer are rebuilt."""
        return hashlib.sha256(self.tok.to_str().encode()).hexdigest()[:16]


def train_hf_bpe(texts: Iterator[str] | Iterable[str], vocab_size: int = 6400,
                 specials: str = "minimind2") -> Tokenizer:
    """MiniMind's byte-level BPE trained in memory: ByteLevel pre-tokenizer without a prefix
    space, all 256 bytes in the alphabet (nothing is unknown), the special tokens first: MiniMind2's
    three or minimind-3's 36 (all special here, so that content can never hold one as an id)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS[specials], show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def train_tokenizer(texts: Iterator[str] | Iterable[str], out_dir: str | os.PathLike,
                    vocab_size: int = 6400, specials: str = "minimind2",
                    source: str = "the corpus") -> MiniMindTokenizer:
    """Train MiniMind's byte-level BPE on `texts` with MiniMind2's or minimind-3's special tokens;
    write tokenizer.json + tokenizer_config.json. Texts that are all blank are refused (naming
    `source`) before anything is written."""
    seen_text = False

    def watched() -> Iterator[str]:
        nonlocal seen_text
        for text in texts:
            seen_text = seen_text or bool(text.strip())
            yield text

    tokenizer = train_hf_bpe(watched(), vocab_size, specials)
    if not seen_text:
        raise MiniMindError(f"{source}: no text in it (empty dataset)", hint="pass a file with text in it")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "tokenizer.json", tokenizer.to_str(pretty=False))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 32768,
        "bos_token": BOS, "eos_token": EOS, "pad_token": PAD, "unk_token": PAD,
        "add_bos_token": False, "add_eos_token": False, "clean_up_tokenization_spaces": False,
        "additional_special_tokens": SPECIALS[specials][3:], "chat_template": TEMPLATES[specials],
    }
    atomic_write_text(out / "tokenizer_config.json", json.dumps(config, indent=2, ensure_ascii=False))
    return MiniMindTokenizer(tokenizer, out)
