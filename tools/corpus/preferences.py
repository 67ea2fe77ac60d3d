"""DPO pairs with a clear preference: right vs wrong sum or fact, polite vs rude, on vs off topic."""

from __future__ import annotations

from minimind_notes.data import phrasing
from minimind_notes.data.phrasing import RUDE_EN, RUDE_ZH
from tools.corpus import arithmetic
from tools.corpus.context import Ctx
from tools.corpus.conversations import exchange
from tools.corpus.facts import Fact

POLITE_EN = ("Sure! ", "Of course. ", "Happy to help! ")
POLITE_ZH = ("好的!", "当然可以。", "很乐意帮忙!")


def _pair(user: str, chosen: str, rejected: str) -> dict:
    return {"chosen": [{"role": "user", "content": user}, {"role": "assistant", "content": chosen}],
            "rejected": [{"role": "user", "content": user}, {"role": "assistant", "content": rejected}]}


def preference(ctx: Ctx, zh: bool, facts: list[Fact]) -> dict:
    rng = ctx.rng
    r = rng.random()
    if r < 0.3:
        s = arithmetic.draw(rng, reserved=ctx.reserved)
        wrong = rng.choice(phrasing.near_misses(s.value, rng))
        user, style = phrasing.question(s, zh, rng), rng.randrange(3)
        return _pair(user, phrasing.reply(s, zh, style), phrasing.reply(s, zh, style, wrong))
    if r < 0.6:
        fact = rng.choice(facts)
        return _pair(rng.choice(fact.asks), fact.answer, fact.say(rng.choice(fact.wrong_values())))
    user, answer = exchange(ctx, zh, facts)
    if r < 0.8:
        polite = rng.choice(POLITE_ZH if zh else POLITE_EN) if rng.random() < 0.5 else ""
        return _pair(user, polite + answer, rng.choice(RUDE_ZH if zh else RUDE_EN))
    while True:
        _, off_topic = exchange(ctx, zh, facts)
        if off_topic != answer:
            return _pair(user, answer, off_topic)


def dpo_rows(ctx: Ctx, n: int, facts_en: list[Fact], facts_zh: list[Fact]) -> list[dict]:
    rows = []
    for _ in range(n):
        zh = ctx.rng.random() < 0.4
        rows.append(preference(ctx, zh, facts_zh if zh else facts_en))
    return rows
