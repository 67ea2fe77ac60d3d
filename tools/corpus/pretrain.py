"""Pretraining documents: paragraphs of one language joined until a drawn length (200-1500 characters)."""

from __future__ import annotations

from collections.abc import Callable

from tools.corpus import prose_en, prose_zh, story_en, story_zh
from tools.corpus.context import Ctx
from tools.corpus.story_en import Sentences

MIN_CHARS, MAX_CHARS = 200, 1500
ENGLISH_SHARE = 0.6

Table = tuple[tuple[Callable[[Ctx], Sentences], int], ...]  # paragraph generator, weight
ENGLISH: Table = ((story_en.story, 6), (prose_en.profile, 3), (prose_en.town, 1), (prose_en.arithmetic_story, 2),
                  (prose_en.math_facts, 1), (prose_en.animals, 1), (prose_en.routine, 1), (prose_en.dialogue, 2),
                  (prose_en.season, 1))
CHINESE: Table = ((story_zh.story, 6), (prose_zh.profile, 3), (prose_zh.town, 1), (prose_zh.arithmetic_story, 2),
                  (prose_zh.math_facts, 1), (prose_zh.animals, 1), (prose_zh.routine, 1), (prose_zh.dialogue, 2),
                  (prose_zh.season, 1))


def _paragraph(ctx: Ctx, zh: bool) -> str:
    table = CHINESE if zh else ENGLISH
    make = ctx.rng.choices([f for f, _ in table], weights=[w for _, w in table])[0]
    return ("" if zh else " ").join(make(ctx))


def document(ctx: Ctx) -> str:
    """One document, all English or all Chinese, MIN_CHARS..MAX_CHARS characters long."""
    zh = ctx.rng.random() >= ENGLISH_SHARE
    target = ctx.rng.randint(MIN_CHARS, 900 if zh else 1300)
    hero = ctx.anyone()
    ctx.cast = (hero, ctx.world.friend(hero))
    parts: list[str] = []
    length = 0
    while length < target:
        para = _paragraph(ctx, zh)
        if length + len(para) + 1 > MAX_CHARS:
            if length >= MIN_CHARS:
                break
            continue
        parts.append(para)
        length += len(para) + (1 if len(parts) > 1 else 0)
    ctx.cast = ()
    return "\n".join(parts)


def documents(ctx: Ctx, min_bytes: int) -> list[dict]:
    """Distinct documents until their UTF-8 size reaches min_bytes."""
    seen: dict[str, None] = {}
    size = 0
    while size < min_bytes:
        text = document(ctx)
        if text not in seen:
            seen[text] = None
            size += len(text.encode("utf-8")) + 12  # + the JSON wrapper {"text": ""} and newline
    return [{"text": t} for t in seen]
