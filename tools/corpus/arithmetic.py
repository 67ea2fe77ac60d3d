"""Small exact arithmetic (results 0-100) and the RL prompt/answer rows built from it.

Every sum is drawn by `draw`, which skips the (a, op, b) triples reserved for the held-out
exam, so no training file ever states the answer to an exam question.
"""

from __future__ import annotations

import random
from collections.abc import Container

from minimind_notes.data.phrasing import Sum, question
from tools.corpus.grammar import count_en, count_zh
from tools.corpus.words import FRUITS, OBJECTS, SNACKS
from tools.corpus.world import World


def draw(rng: random.Random, ops: str = "+-*", reserved: Container[tuple[int, str, int]] = (),
         top: int = 0, low: int = 0) -> Sum:
    """A sum with every number and the result in 0..100, small numbers more often.

    `top` caps the numbers (default: a random cap of 10, 20, 50 or 100); `low` is the smallest
    operand (stories use 1: nobody buys 0 more apples).
    """
    while True:
        op = rng.choice(ops)
        limit = top or rng.choice((10, 10, 20, 20, 50, 100))
        if op == "+":
            a = rng.randint(low, limit - low)
            s = Sum(a, op, rng.randint(low, limit - a))
        elif op == "-":
            a = rng.randint(low, limit)
            s = Sum(a, op, rng.randint(low, a))
        else:
            s = Sum(rng.randint(max(low, 1), 10), op, rng.randint(low, 10))
        if s.key not in reserved:
            return s


def word_problem(rng: random.Random, world: World, s: Sum, zh: bool) -> tuple[str, str]:
    """A one-step story problem for `s` and a worked answer."""
    p = rng.choice(world.people)
    food = rng.choice(FRUITS + SNACKS)
    m, v = food.measure, s.value
    if s.op == "+":
        if zh:
            return (f"{p.zh}有{count_zh(s.a, food)},又买了{s.b}{m}。{p.ta}现在一共有几{m}{food.zh}?",
                    f"{s.zh()} 等于 {v},所以{p.ta}现在有{count_zh(v, food)}。")
        return (f"{p.en} has {count_en(s.a, food)} and buys {s.b} more. "
                f"How many {food.pl} does {p.he} have now?",
                f"{s.symbolic()} = {v}, so {p.he} has {count_en(v, food)} now.")
    if s.op == "-":
        if zh:
            return (f"{p.zh}有{count_zh(s.a, food)},吃掉了{s.b}{m}。还剩几{m}{food.zh}?",
                    f"{s.zh()} 等于 {v},所以还剩{count_zh(v, food)}。")
        return (f"{p.en} has {count_en(s.a, food)} and eats {s.b}. How many {food.pl} are left?",
                f"{s.symbolic()} = {v}, so {count_en(v, food)} {'is' if v == 1 else 'are'} left.")
    box = next(o for o in OBJECTS if o.en == "box")
    if zh:
        return (f"{p.zh}有{count_zh(s.a, box)},每个盒子里有{count_zh(s.b, food)}。一共有几{m}{food.zh}?",
                f"{s.zh()} 等于 {v},所以一共有{count_zh(v, food)}。")
    return (f"{p.en} has {count_en(s.a, box)} with {count_en(s.b, food)} in each. "
            f"How many {food.pl} are there in all?",
            f"{s.symbolic()} = {v}, so there {'is' if v == 1 else 'are'} {count_en(v, food)} in all.")


def rl_rows(rng: random.Random, world: World, n: int,
            reserved: Container[tuple[int, str, int]]) -> list[dict]:
    """Prompt/answer rows for RL with a verifiable reward; `answer` is the integer as a string."""
    rows = []
    for _ in range(n):
        zh = rng.random() < 0.4
        if rng.random() < 0.7:
            s = draw(rng, reserved=reserved)
            prompt = question(s, zh, rng)
        else:
            s = draw(rng, reserved=reserved, top=20, low=1)
            prompt = word_problem(rng, world, s, zh)[0]
        rows.append({"prompt": prompt, "answer": str(s.value)})
    return rows
