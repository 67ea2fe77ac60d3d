"""What every text generator receives: its random stream, the world, and the exam's reserved sums."""

from __future__ import annotations

import random
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TypeVar

from tools.corpus.world import Person, Town, World

T = TypeVar("T")
# Skew of the choice of people and towns. 1.0 (like things) measured 4.3 held-out perplexity after
# 10 CPU minutes, 0.5 measured 5.9; the price is a few very frequent names (Kate, Maya, Rose).
PEOPLE_POWER = 1.0


@cache
def zipf_weights(n: int, power: float = 1.0) -> tuple[float, ...]:
    """Weights 1, 1/2, 1/3, ... (to `power`): the first items of a list are common, the last ones rare,
    as in real text. Lower entropy than a uniform choice, so a small model learns faster."""
    return tuple(1 / (rank + 1) ** power for rank in range(n))


@dataclass
class Ctx:
    rng: random.Random
    world: World
    reserved: Container[tuple[int, str, int]] = field(default_factory=tuple)
    # The people a pretraining document is about (hero first). Paragraphs of one document
    # mostly reuse them, so names and facts recur in context the way they do in real text.
    cast: tuple[Person, ...] = ()

    def pair(self, op: str, a_range: tuple[int, int], b_range: tuple[int, int]) -> tuple[int, int]:
        """Two numbers for `a op b` whose sum is not one of the exam's reserved questions."""
        while True:
            a, b = self.rng.randint(*a_range), self.rng.randint(*b_range)
            if (a, op, b) not in self.reserved:
                return a, b

    def pick(self, items: Sequence[T], power: float = 1.0) -> T:
        """A Zipf-weighted choice (see zipf_weights)."""
        return self.rng.choices(items, weights=zipf_weights(len(items), power))[0]

    def anyone(self) -> Person:
        """A person of the world, Zipf-weighted by PEOPLE_POWER."""
        return self.pick(self.world.people, PEOPLE_POWER)

    def pick_some(self, items: Sequence[T], k: int) -> list[T]:
        """k distinct Zipf-weighted choices."""
        chosen: list[T] = []
        while len(chosen) < k:
            item = self.pick(items)
            if item not in chosen:
                chosen.append(item)
        return chosen

    def person(self) -> Person:
        """Usually the document's hero or the hero's friend, sometimes anyone."""
        r = self.rng.random()
        if self.cast and r < 0.8:
            return self.cast[0] if r < 0.55 else self.cast[-1]
        return self.anyone()

    def town(self) -> Town:
        if self.cast and self.rng.random() < 0.8:
            return self.cast[0].town
        return self.pick(self.world.towns, PEOPLE_POWER)

    def other(self, person: Person, friend_chance: float = 0.4, use_cast: bool = True) -> Person:
        """Often the person's best friend or someone else of the cast, otherwise anyone else."""
        if self.rng.random() < friend_chance:
            return self.world.friend(person)
        mates = [p for p in self.cast if p != person] if use_cast else []
        if mates and self.rng.random() < 0.5:
            return self.rng.choice(mates)
        while True:
            other = self.anyone()
            if other != person:
                return other
