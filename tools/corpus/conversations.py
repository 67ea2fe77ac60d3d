"""SFT and identity conversations: 1-3 user/assistant turns, sometimes after a system message."""

from __future__ import annotations

from minimind_notes.data import phrasing
from tools.corpus import arithmetic, instructions
from tools.corpus.context import Ctx
from tools.corpus.facts import Fact
from tools.corpus.identity import identity_conversation
from tools.corpus.instructions import Exchange

SYSTEM_EN = ("You are a helpful assistant.", "You are a friendly assistant. Answer briefly.",
             "You are a small and helpful assistant.", "Answer the user's question.")
SYSTEM_ZH = ("你是一个乐于助人的助手。", "你是一个友好的助手,请简短回答。",
             "你是一个小巧而有用的助手。", "请回答用户的问题。")


def fact_exchange(ctx: Ctx, facts: list[Fact]) -> Exchange:
    fact = ctx.rng.choice(facts)
    return ctx.rng.choice(fact.asks), fact.answer


def arithmetic_exchange(ctx: Ctx, zh: bool) -> Exchange:
    rng = ctx.rng
    if rng.random() < 0.7:
        s = arithmetic.draw(rng, reserved=ctx.reserved)
        return phrasing.question(s, zh, rng), phrasing.reply(s, zh, rng.randrange(3))
    s = arithmetic.draw(rng, reserved=ctx.reserved, top=20, low=1)
    return arithmetic.word_problem(rng, ctx.world, s, zh)


def exchange(ctx: Ctx, zh: bool, facts: list[Fact]) -> Exchange:
    """One exchange of a random kind: world fact, arithmetic, instruction or greeting.

    Never "who are you?": the SFT model must not know its name yet, so that the LoRA stage
    (lora_identity.jsonl) has something measurable to teach.
    """
    r = ctx.rng.random()
    if r < 0.34:
        return fact_exchange(ctx, facts)
    if r < 0.62:
        return arithmetic_exchange(ctx, zh)
    if r < 0.96:
        return ctx.rng.choice(instructions.INSTRUCTIONS)(ctx, zh)
    return instructions.greeting(ctx, zh)


def _messages(ctx: Ctx, zh: bool, turns: list[Exchange], system_chance: float) -> list[dict]:
    msgs = []
    if ctx.rng.random() < system_chance:
        msgs.append({"role": "system", "content": ctx.rng.choice(SYSTEM_ZH if zh else SYSTEM_EN)})
    for user, assistant in turns:
        msgs += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return msgs


def sft_rows(ctx: Ctx, n: int, facts_en: list[Fact], facts_zh: list[Fact]) -> list[dict]:
    rows = []
    for _ in range(n):
        zh = ctx.rng.random() < 0.4
        k = ctx.rng.choices((1, 2, 3), weights=(6, 3, 1))[0]
        turns = [exchange(ctx, zh, facts_zh if zh else facts_en) for _ in range(k)]
        rows.append({"conversations": _messages(ctx, zh, turns, 0.25)})
    return rows


def identity_rows(ctx: Ctx, n: int) -> list[dict]:
    rows = []
    for _ in range(n):
        zh = ctx.rng.random() < 0.5
        turns = identity_conversation(ctx.rng, zh)
        if ctx.rng.random() < 0.35:  # typed the way people type: "who are you", "你是谁"
            turns[0] = (casual(turns[0][0], drop_mark=ctx.rng.random() < 0.5), turns[0][1])
        rows.append({"conversations": _messages(ctx, zh, turns, 0.2)})
    return rows


def casual(question: str, drop_mark: bool) -> str:
    """Lower-case first letter, maybe no closing mark: a small model keys on exact tokens, and
    "who are you?" tokenizes differently from "Who are you?"."""
    question = question[:1].lower() + question[1:]
    return question[:-1] if drop_mark and question[-1:] in ("?", ".", "!", "?", "。", "!") else question
