"""The held-out multiple-choice exam (C-Eval/MMLU row format) about the same world.

Questions use phrasings no training file uses, and its sums are reserved: `draw` never produces
them anywhere else. The right answers are spread evenly over A-D.
"""

from __future__ import annotations

from minimind_notes.data import phrasing
from tools.corpus import arithmetic
from tools.corpus.context import Ctx
from tools.corpus.facts import Fact
from tools.corpus.instructions import VOCABULARY
from tools.corpus.words import OPPOSITES

LETTERS = "ABCD"


def _question(question: str, right: str, wrong: list[str], subject: str) -> dict:
    return {"question": question, "right": right, "wrong": wrong, "subject": subject}


def _facts(ctx: Ctx, facts: list[Fact], n: int) -> list[dict]:
    chosen = ctx.rng.sample([f for f in facts if f.exam], n)
    return [_question(f.exam, f.value, ctx.rng.sample(f.wrong_values(), 3), "world_facts") for f in chosen]


def _sums(ctx: Ctx, n: int, zh: bool, taken: set[tuple[int, str, int]]) -> list[dict]:
    rows = []
    while len(rows) < n:
        s = arithmetic.draw(ctx.rng)
        if s.key in taken:
            continue
        taken.add(s.key)
        wrong = [str(v) for v in phrasing.near_misses(s.value, ctx.rng)]
        question = f"计算:{s.zh()} 等于多少?" if zh else f"Compute: {s.symbolic()} = ?"
        rows.append(_question(question, str(s.value), wrong, "arithmetic"))
    return rows


def _language(ctx: Ctx, n: int, zh: bool) -> list[dict]:
    rng = ctx.rng
    rows = []
    words = rng.sample(VOCABULARY, n - n // 4)
    for category, en, cn in words:
        same = [w for w in VOCABULARY if w[0] == category and w[1] != en and w[2] != cn]
        others = rng.sample(same, 3)
        if zh:
            rows.append(_question(f"下面哪个英文单词的意思是“{cn}”?", en, [o[1] for o in others], "language"))
        else:
            rows.append(_question(f'Which Chinese word means "{en}"?', cn, [o[2] for o in others],
                                  "language"))
    for a, b in rng.sample(OPPOSITES, n // 4):
        pool = [w for pair in OPPOSITES for w in pair if w not in (a, b)]
        wrong = rng.sample(pool, 3)
        if zh:
            rows.append(_question(f"“{a.zh}”的反义词是哪一个?", b.zh, [w.zh for w in wrong], "language"))
        else:
            rows.append(_question(f'Which word is the opposite of "{a.en}"?', b.en, [w.en for w in wrong],
                                  "language"))
    return rows


def exam_rows(ctx: Ctx, facts_en: list[Fact], facts_zh: list[Fact]) -> tuple[list[dict], set]:
    """320 rows and the set of reserved (a, op, b) sums the other generators must avoid."""
    taken: set[tuple[int, str, int]] = set()
    drafts = (_facts(ctx, facts_en, 70) + _facts(ctx, facts_zh, 70) + _sums(ctx, 50, False, taken)
              + _sums(ctx, 50, True, taken) + _language(ctx, 40, False) + _language(ctx, 40, True))
    ctx.rng.shuffle(drafts)
    rows = []
    for i, d in enumerate(drafts):
        options = list(d["wrong"])
        ctx.rng.shuffle(options)
        options.insert(i % 4, d["right"])
        rows.append({"question": d["question"], **dict(zip(LETTERS, options, strict=True)),
                     "answer": LETTERS[i % 4], "subject": d["subject"]})
    return rows, taken
