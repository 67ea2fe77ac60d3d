"""BPE training: the first merges learned from a text, which must equal Hugging Face `tokenizers`'."""

from __future__ import annotations

from minimind_notes.data.bpe_scratch import train_bpe
from minimind_notes.exercises.spec import Case, Exercise, Mistake

SOLUTION = '''\
from collections import Counter

from minimind_notes.data.bpe_scratch import BYTE_TO_SYMBOL, merge_pair, pretokenize, to_symbols


def train_merges(text, num_merges):
    ids = {symbol: i for i, symbol in enumerate(sorted(BYTE_TO_SYMBOL.values()))}
    words = Counter(tuple(to_symbols(piece)) for piece in pretokenize(text))
    merges = []
    for _ in range(num_merges):
        pairs = Counter()
        for word, count in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += count
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], ids[p[0]], ids[p[1]]))
        merges.append(best)
        ids.setdefault(best[0] + best[1], len(ids))
        merged = Counter()
        for word, count in words.items():
            merged[tuple(merge_pair(word, best, best[0] + best[1]))] += count
        words = merged
    return merges
'''

DOCS = {"train_merges": {
    "en": """The first num_merges merges byte-level BPE learns from text, as a list of (left, right) token strings.

    Tokens are strings of byte symbols (to_symbols: GPT-2's printable stand-in for each UTF-8 byte, ' ' is 'Ġ').
    1. Cut the text into pre-tokens with pretokenize(text): merges never cross a pre-token.
    2. Repeat: count adjacent pairs over all pre-tokens (each weighted by how often it occurs), merge the most
       frequent pair everywhere (merge_pair), record it. Stop early when no pair is left.
    Ties: the pair with the smallest (left id, right id) wins, where the 256 byte symbols have ids 0..255 in
    sorted order (sorted(BYTE_TO_SYMBOL.values())) and each new token gets the next id (as `tokenizers` does).""",
    "zh": """字节级 BPE 从 text 学到的前 num_merges 次合并,返回 (left, right) token 字符串的列表。

    token 是字节符号组成的字符串(to_symbols:GPT-2 给每个 UTF-8 字节的可打印替身,空格是 'Ġ')。
    1. 用 pretokenize(text) 把文本切成预分词:合并从不跨越预分词。
    2. 重复:统计所有预分词中相邻符号对的次数(按预分词出现次数加权),把最频繁的一对处处合并(merge_pair),
       记录下来。没有符号对时提前结束。
    平局:(left id, right id) 最小的一对胜出;256 个字节符号按排序后的顺序编号 0..255
    (sorted(BYTE_TO_SYMBOL.values())),每个新 token 取下一个编号(与 `tokenizers` 一致)。""",
}}

HINTS = [
    {"en": "Count each distinct pre-token once, as a tuple of symbols, with its frequency: Counter(...).",
     "zh": "每个不同的预分词只存一次(符号元组),并记下出现次数:Counter(...)。"},
    {"en": "min(pairs, key=lambda p: (-pairs[p], ids[p[0]], ids[p[1]])) picks the most frequent pair, ties by ids.",
     "zh": "min(pairs, key=lambda p: (-pairs[p], ids[p[0]], ids[p[1]])) 选出最频繁的一对,平局按编号。"},
    {"en": "After a merge, the new token left + right gets the next id; replace the pair in every word.",
     "zh": "合并之后,新 token left + right 取下一个编号;在每个词里替换这一对。"},
]

MISTAKES = [
    Mistake("across_words", "words = Counter(tuple(to_symbols(piece)) for piece in pretokenize(text))",
            "words = Counter([tuple(to_symbols(text))])",
            {"en": "Your merges cross word boundaries: pre-tokenize first (pretokenize), and count pairs inside each "
                   "pre-token only.",
             "zh": "你的合并跨越了词边界:先预分词(pretokenize),只在每个预分词内部统计符号对。"}),
    Mistake("ties_first_seen", "best = min(pairs, key=lambda p: (-pairs[p], ids[p[0]], ids[p[1]]))",
            "best = max(pairs, key=pairs.get)",
            {"en": "Ties broken by first occurrence: `tokenizers` takes, among equally frequent pairs, the one "
                   "with the "
                   "smallest (left id, right id).",
             "zh": "平局按首次出现的顺序选:`tokenizers` 在同样频繁的对中选 (left id, right id) 最小的。"}),
    Mistake("unweighted", "pairs[pair] += count", "pairs[pair] += 1",
            {"en": "Each distinct word counts once in your pair counts: weight its pairs by how often the word occurs.",
             "zh": "你的统计里每个不同的词只算一次:要按词出现的次数给它的符号对加权。"}),
]

TEXTS = [
    ("English", "the cat sat on the mat. the cat ate the rat, and the rat ran from the cat! " * 3, 20),
    ("Chinese and digits", "我们学习语言模型。语言模型学习语言。2024 年 2025 年 2026 年", 12),
    ("ties everywhere", "ab ab cd cd ef ef gh gh", 6),
]


def oracle(text, num_merges):
    return train_bpe([text], 256 + num_merges).merges[:num_merges]


def cases():
    for title, text, n in TEXTS:
        yield Case(f"merges: {title}, {n} merges", "train_merges", (text, n))
    yield Case("edge: one character, no pair to merge", "train_merges", ("a", 3))


EXERCISE = Exercise(
    name="bpe_merges", module="tokenizer", minutes=30,
    title={"en": "BPE merges (equal to `tokenizers`')", "zh": "BPE 合并(与 `tokenizers` 一致)"},
    solution=SOLUTION, docs=DOCS, hints=HINTS, real_code="minimind_notes/data/bpe_scratch.py: train_bpe",
    oracle={"train_merges": oracle}, cases=cases, mistakes=MISTAKES,
)
