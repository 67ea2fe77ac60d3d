"""Which language learner-facing text is shown in: `--lang`, else MINIMIND_LANG, else English."""

from __future__ import annotations

import os

from minimind_notes.errors import UsageError

LANGS = ("en", "zh")


def resolve_lang(lang: str | None = None) -> str:
    chosen = (lang or os.environ.get("MINIMIND_LANG") or "en").strip().lower()
    chosen = {"cn": "zh", "zh-cn": "zh", "zh_cn": "zh", "chinese": "zh", "english": "en"}.get(chosen, chosen)
    if chosen not in LANGS:
        raise UsageError(f"unknown language {chosen!r}", hint="use --lang en or --lang zh")
    return chosen


def pick(text: dict[str, str] | str, lang: str) -> str:
    """The text in `lang` from {'en': ..., 'zh': ...}, falling back to English."""
    if isinstance(text, str):
        return text
    return text.get(lang) or text.get("en") or next(iter(text.values()), "")


def render(table: dict[str, dict[str, str]], key: str, lang: str, **values: object) -> str:
    """One entry of a command's bilingual UI strings, in `lang`, with `values` filled in."""
    return pick(table[key], lang).format(**values)
