"""Byte-level BPE from scratch, in plain Python, readable top to bottom.

1. Text becomes UTF-8 bytes: 256 possible symbols, so any string encodes and nothing is unknown.
2. GPT-2's regex cuts the text into words ("pre-tokens"); merges never cross a word boundary.
3. Training counts adjacent symbol pairs, merges the most frequent pair into a new token, and
   repeats until the vocabulary is full. The list of merges, in order, *is* the model.
4. Encoding replays the merges inside each word, earliest learned (lowest rank) first.

The choices match Hugging Face `tokenizers` (ByteLevel pre-tokenizer without prefix space,
BpeTrainer), so `BPEModel.to_tokenizers()` is a Rust tokenizer that agrees token for token.
"""

from __future__ import annotations

import heapq
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from tokenizers import Tokenizer

T = TypeVar("T")  # a symbol: a token string when encoding, a token id when training


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's map from each byte 0..255 to a printable character, so tokens can be saved as text.

    The 188 printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the other 68
    (space, newline, control bytes, ...) become chr(256), chr(257), ...: a space is 'Ġ', a newline 'Ċ'.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), 256)]
    mapping = {b: chr(b) for b in printable}
    others = [b for b in range(256) if b not in mapping]
    return mapping | {b: chr(256 + n) for n, b in enumerate(others)}


BYTE_TO_SYMBOL = bytes_to_unicode()
SYMBOL_TO_BYTE = {symbol: b for b, symbol in BYTE_TO_SYMBOL.items()}


def to_symbols(text: str) -> str:
    """A string's UTF-8 bytes, one printable symbol per byte: 'hé!' -> 'hÃ©!'."""
    return "".join(BYTE_TO_SYMBOL[b] for b in text.encode("utf-8"))


# --- Pre-tokenization ------------------------------------------------------------------------------
# GPT-2 splits text with the regex  's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
# Python's `re` has no \p{L} (letter) or \p{N} (number) classes (the third-party `regex` module has
# them), so `pretokenize` below is that regex written out as a scanner trying the alternatives in order.
# Letters and numbers are the Unicode categories L* and N* (not str.isnumeric, which also counts CJK
# numerals such as '一', a letter). \s is Unicode White_Space: str.isspace minus 4 ASCII separators.
SPACE, LETTER, NUMBER, OTHER = "space", "letter", "number", "other"


def char_class(ch: str) -> str:
    """Which of the regex's character classes `ch` is in."""
    if ch.isspace() and ch not in "\x1c\x1d\x1e\x1f":
        return SPACE
    category = unicodedata.category(ch)[0]
    return LETTER if category == "L" else NUMBER if category == "N" else OTHER


def _match_end(text: str, i: int) -> int:
    """Where the GPT-2 regex match that starts at text[i] ends."""
    if text[i] == "'":  # 's 't 're 've 'm 'll 'd: English contractions are their own pre-token
        if text[i + 1 : i + 3] in ("re", "ve", "ll"):
            return i + 3
        if text[i + 1 : i + 2] in ("s", "t", "m", "d"):
            return i + 2
    # ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': one optional space, then a run of one class.
    # This is how " world" keeps its leading space: the space belongs to the word after it.
    start = i + 1 if text[i] == " " and i + 1 < len(text) and char_class(text[i + 1]) != SPACE else i
    kind = char_class(text[start])
    end = start
    if kind != SPACE:
        while end < len(text) and char_class(text[end]) == kind:
            end += 1
        return end
    # '\s+(?!\S)|\s+': a run of whitespace, minus its last character when a word follows
    # (that space then prefixes the word), so "a   b" splits as "a", "  ", " b".
    while end < len(text) and char_class(text[end]) == SPACE:
        end += 1
    return end - 1 if end < len(text) and end - i > 1 else end


def pretokenize(text: str) -> list[str]:
    """Split text into GPT-2 pre-tokens: "Hi, it's 2024!" -> ['Hi', ',', ' it', "'s", ' 2024', '!']."""
    pieces, i = [], 0
    while i < len(text):
        end = _match_end(text, i)
        pieces.append(text[i:end])
        i = end
    return pieces


# --- The model -------------------------------------------------------------------------------------
def merge_pair(word: Sequence[T], pair: tuple[T, T], new: T) -> list[T]:
    """Replace each occurrence of `pair` in `word`, left to right, by `new`."""
    out, i = [], 0
    while i < len(word):
        found = i + 1 < len(word) and word[i] == pair[0] and word[i + 1] == pair[1]
        out.append(new if found else word[i])
        i += 2 if found else 1
    return out


@dataclass
class BPEModel:
    """A trained tokenizer: the vocabulary and the ordered merges are all there is to it."""

    vocab: dict[str, int]  # token string (in byte symbols) -> id
    merges: list[tuple[str, str]]  # in the order they were learned: index = rank
    special_tokens: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ranks = {pair: rank for rank, pair in enumerate(self.merges)}
        self.id_to_token = {i: token for token, i in self.vocab.items()}
        self._cache: dict[str, list[int]] = {}  # pre-token -> ids; text repeats words a lot

    def _encode_word(self, piece: str) -> list[int]:
        if piece not in self._cache:
            symbols = list(to_symbols(piece))
            while len(symbols) > 1:  # apply the earliest-learned merge present, until none applies
                best = min(pairwise(symbols), key=lambda p: self.ranks.get(p, len(self.ranks)))
                if best not in self.ranks:
                    break
                symbols = merge_pair(symbols, best, best[0] + best[1])
            self._cache[piece] = [self.vocab[s] for s in symbols]
        return self._cache[piece]

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`. Special tokens are never produced: '<|im_end|>' here is plain text."""
        return [i for piece in pretokenize(text) for i in self._encode_word(piece)]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of token ids; exact inverse of `encode`. Bytes that are not valid UTF-8 become '�'."""
        data = bytearray()
        for token in (self.id_to_token[i] for i in ids):
            special = token in self.special_tokens
            data += token.encode() if special else bytes(SYMBOL_TO_BYTE[s] for s in token)
        return data.decode("utf-8", errors="replace")

    def to_tokenizers(self) -> Tokenizer:
        """The same model as a Hugging Face `tokenizers.Tokenizer` (special tokens registered)."""
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers

        tokenizer = Tokenizer(models.BPE(vocab=dict(self.vocab), merges=list(self.merges)))
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tokenizer.decoder = decoders.ByteLevel()
        tokenizer.add_special_tokens(self.special_tokens)
        return tokenizer


# --- Training --------------------------------------------------------------------------------------
def train_bpe(texts: Iterable[str], vocab_size: int, special_tokens: Sequence[str] = ()) -> BPEModel:
    """Learn merges until the vocabulary (special tokens + 256 bytes + merges) has `vocab_size` tokens.

    Ids: special tokens, then the 256 byte symbols sorted by character, then each new token.
    Ties between equally frequent pairs go to the smallest (left id, right id), as in `tokenizers`.
    """
    vocab: dict[str, int] = {}
    for token in [*special_tokens, *sorted(BYTE_TO_SYMBOL.values())]:
        vocab.setdefault(token, len(vocab))
    id_to_token = {i: token for token, i in vocab.items()}

    # 1. Count each distinct word once: the corpus becomes {word: count}, much smaller than the text.
    word_counts = Counter(to_symbols(piece) for text in texts for piece in pretokenize(text))
    words = [[vocab[s] for s in word] for word in word_counts]  # each word as a list of token ids
    counts = list(word_counts.values())

    # 2. Count adjacent pairs, remembering which words contain each pair.
    pair_counts: Counter[tuple[int, int]] = Counter()
    where: defaultdict[tuple[int, int], set[int]] = defaultdict(set)
    for w, word in enumerate(words):
        for pair in pairwise(word):
            pair_counts[pair] += counts[w]
            where[pair].add(w)
    # A heap finds the best pair fast. Entries go stale when a count changes; rather than updating
    # them in place we push a fresh entry and skip stale ones when they surface ("lazy deletion").
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)

    merges: list[tuple[str, str]] = []
    while len(vocab) < vocab_size and heap:
        neg_count, pair = heapq.heappop(heap)
        if pair_counts.get(pair) != -neg_count:
            continue  # stale entry
        left, right = id_to_token[pair[0]], id_to_token[pair[1]]
        merges.append((left, right))
        new_id = vocab.setdefault(left + right, len(vocab))  # (reuses the id if the string exists)
        id_to_token[new_id] = left + right

        # 3. Re-count only the words that contain the pair: remove their old pairs, add the new ones.
        changed = set()
        for w in where.pop(pair):
            old, count = words[w], counts[w]
            new = merge_pair(old, pair, new_id)
            if len(new) == len(old):
                continue  # this word lost the pair to an earlier merge
            for p in pairwise(old):
                pair_counts[p] -= count
            for p in pairwise(new):
                pair_counts[p] += count
                where[p].add(w)
            changed.update(pairwise(old), pairwise(new))
            words[w] = new
        for p in changed:
            if pair_counts[p] > 0:
                heapq.heappush(heap, (-pair_counts[p], p))
    return BPEModel(vocab, merges, list(special_tokens))
