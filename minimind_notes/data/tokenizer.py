"""MiniMind's tokenizer: byte-level BPE with Hugging Face `tokenizers`.

Layout as in MiniMind: ByteLevel pre-tokenizer without a prefix space, special tokens
<|endoftext|>=0 (pad/unk), <|im_start|>=1 (bos), <|im_end|>=2 (eos), vocab 6400. A
folder from the official MiniMind2 release (tokenizer.json) loads the same way.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from minimind_notes.data.bpe_scratch import SYMBOL_TO_BYTE
from minimind_notes.data.chat import BOS, EOS, PAD, apply_chat_template, chat_turns
from minimind_notes.errors import MiniMindError
from minimind_notes.fileio import atomic_write_text

if TYPE_CHECKING:
    from tokenizers import Tokenizer

SPECIAL_TOKENS = [PAD, BOS, EOS]
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

    def apply_chat_template(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool = False,
                            tokenize: bool = False) -> str | list[int]:
        """The ChatML text, or (tokenize) its ids: the same ids as encoding the text, except that
        special-token strings inside a message's content stay plain text."""
        if not tokenize:
            return apply_chat_template(messages, add_generation_prompt)
        ids = [i for role, content in chat_turns(messages) for i in self.message_ids(role, content)]
        return ids + self.generation_prompt_ids if add_generation_prompt else ids

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

    @functools.cached_property
    def generation_prompt_ids(self) -> list[int]:
        """<|im_start|>assistant\\n: where the model's reply begins."""
        return [self.bos_token_id, *self.encode_plain("assistant\n")]

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
                    vocab_size: int = 6400, specials: str = "minimind2") -> MiniMindTokenizer:
    """Train MiniMind's byte-level BPE on `texts` with MiniMind2's or minimind-3's special tokens;
    write tokenizer.json + tokenizer_config.json."""
    tokenizer = train_hf_bpe(texts, vocab_size, specials)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "tokenizer.json", tokenizer.to_str(pretty=False))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 32768,
        "bos_token": BOS, "eos_token": EOS, "pad_token": PAD, "unk_token": PAD,
        "add_bos_token": False, "add_eos_token": False, "clean_up_tokenization_spaces": False,
        "additional_special_tokens": SPECIALS[specials][3:], "chat_template": CHAT_TEMPLATE_JINJA,
    }
    atomic_write_text(out / "tokenizer_config.json", json.dumps(config, indent=2, ensure_ascii=False))
    return MiniMindTokenizer(tokenizer, out)


# The same template for Hugging Face's AutoTokenizer (transformers renders it with Jinja);
# this project renders it with apply_chat_template in chat.py.
CHAT_TEMPLATE_JINJA = (
    "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant."
    "<|im_end|>\\n' }}{% endif %}{% for message in messages %}{{ '<|im_start|>' + message['role'] + "
    "'\\n' + message['content'] + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
