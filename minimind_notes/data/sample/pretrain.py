"""Pretraining documents: paragraphs of one language joined until a drawn length (200-1500 characters)."""

from __future__ import annotations

from minimind_notes.data.sample import stories_en, stories_zh
from minimind_notes.data.sample.context import Ctx

MIN_CHARS, MAX_CHARS = 200, 1500
ENGLISH_SHARE = 0.6


def _paragraph(ctx: Ctx, zh: bool) -> str:
    table = stories_zh.PARAGRAPHS if zh else stories_en.PARAGRAPHS
    make = ctx.rng.choices([f for f, _ in table], weights=[w for _, w in table])[0]
    return ("" if zh else " ").join(make(ctx))


def document(ctx: Ctx) -> str:
    """One document, all English or all Chinese, MIN_CHARS..MAX_CHARS characters long."""
    zh = ctx.rng.random() >= ENGLISH_SHARE
    target = ctx.rng.randint(MIN_CHARS, 900 if zh else 1300)
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
