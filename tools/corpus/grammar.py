"""Small grammar helpers: articles, plurals with numbers, lists, capitals, in English and Chinese."""

from __future__ import annotations

from collections.abc import Sequence

from tools.corpus.words import Animal, Noun, Place


def an(word: str) -> str:
    """'a cat', 'an owl' (the vocabulary avoids words like 'hour' or 'unicorn')."""
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def at(place: Place) -> str:
    """'at the market', 'in the park', 'on the hill'."""
    return f"{place.prep} the {place.en}"


def they_zh(*people: object) -> str:
    """她们 when everyone is female, else 他们 (people have a `female` attribute)."""
    return "她们" if all(getattr(p, "female", False) for p in people) else "他们"


def count_en(n: int, noun: Noun | Animal) -> str:
    """'1 apple', '3 apples', '0 apples'."""
    return f"{n} {noun.en if n == 1 else noun.pl}"


def count_zh(n: int, noun: Noun | Animal) -> str:
    """'3个苹果', '2只猫'."""
    return f"{n}{noun.measure}{noun.zh}"


def join_en(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def join_zh(items: Sequence[str]) -> str:
    """'甲', '甲和乙', '甲、乙和丙'."""
    if len(items) < 2:
        return "".join(items)
    return "、".join(items[:-1]) + "和" + items[-1]


def number_word(n: int) -> str:
    """English words for 0..12 (used for 'two bridges'); digits beyond."""
    words = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
             "eleven", "twelve")
    return words[n] if 0 <= n < len(words) else str(n)
