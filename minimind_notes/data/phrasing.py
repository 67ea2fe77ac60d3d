"""The phrasing of the embedded corpus that run time needs: how an arithmetic question and its
answer are worded, and the rude replies of the DPO pairs. The corpus generator (tools/corpus/)
writes data/ with these; the alignment lab asks and recognizes questions in the same words."""

from __future__ import annotations

import random
from dataclasses import dataclass

SYMBOL = {"+": "+", "-": "-", "*": "×"}
EN_WORD = {"+": "plus", "-": "minus", "*": "times"}
ZH_WORD = {"+": "加", "-": "减", "*": "乘"}

RUDE_EN = ("That is a silly question. Figure it out yourself.", "I don't want to talk to you.",
           "Stop asking me things.", "Why should I tell you? Go away.", "Ugh, ask someone else.")
RUDE_ZH = ("这个问题太傻了,你自己想吧。", "我不想跟你说话。", "别再问我了。", "我凭什么告诉你?走开。",
           "烦死了,去问别人吧。")


@dataclass(frozen=True)
class Sum:
    a: int
    op: str  # "+", "-" or "*"
    b: int

    @property
    def value(self) -> int:
        return self.a + self.b if self.op == "+" else self.a - self.b if self.op == "-" else self.a * self.b

    @property
    def key(self) -> tuple[int, str, int]:
        return (self.a, self.op, self.b)

    def symbolic(self) -> str:
        """'7 + 5'"""
        return f"{self.a} {SYMBOL[self.op]} {self.b}"

    def zh(self) -> str:
        """'7 加 5'"""
        return f"{self.a} {ZH_WORD[self.op]} {self.b}"


def questions(s: Sum, zh: bool) -> list[str]:
    """Every wording of a bare arithmetic question: 'What is 7 + 5?' / '7 加 5 等于多少?'."""
    if zh:
        return [f"{s.zh()} 等于多少?", f"{s.symbolic()} 等于几?", f"请计算 {s.symbolic()}。"]
    return [f"What is {s.symbolic()}?", f"What is {s.a} {EN_WORD[s.op]} {s.b}?",
            f"Calculate {s.symbolic()}.", f"How much is {s.symbolic()}?"]


def question(s: Sum, zh: bool, rng: random.Random) -> str:
    """One wording of the question, drawn with `rng`."""
    return rng.choice(questions(s, zh))


def reply(s: Sum, zh: bool, style: int, value: int | None = None) -> str:
    """An answer stating `value` (the right one unless given) in one of three styles: '7 + 5 = 12.'"""
    v = s.value if value is None else value
    if zh:
        return (f"{s.zh()} 等于 {v}。", f"{s.symbolic()} = {v}。", f"答案是 {v}。")[style % 3]
    words = f"{s.a} {EN_WORD[s.op]} {s.b}"
    return (f"{s.symbolic()} = {v}.", f"{words} is {v}.", f"The answer is {v}.")[style % 3]


def near_misses(value: int, rng: random.Random, k: int = 3) -> list[int]:
    """k plausible wrong answers: off by one or two, or by ten, never negative."""
    candidates = [value + d for d in (1, -1, 2, -2, 10, -10, 3) if value + d >= 0]
    return rng.sample(candidates, k)
