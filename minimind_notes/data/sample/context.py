"""What every text generator receives: its random stream, the world, and the exam's reserved sums."""

from __future__ import annotations

import random
from collections.abc import Container
from dataclasses import dataclass, field

from minimind_notes.data.sample.world import Person, World


@dataclass
class Ctx:
    rng: random.Random
    world: World
    reserved: Container[tuple[int, str, int]] = field(default_factory=tuple)

    def pair(self, op: str, a_range: tuple[int, int], b_range: tuple[int, int]) -> tuple[int, int]:
        """Two numbers for `a op b` whose sum is not one of the exam's reserved questions."""
        while True:
            a, b = self.rng.randint(*a_range), self.rng.randint(*b_range)
            if (a, op, b) not in self.reserved:
                return a, b

    def person(self) -> Person:
        return self.rng.choice(self.world.people)

    def other(self, person: Person, friend_chance: float = 0.4) -> Person:
        """Often the person's best friend, otherwise anyone else."""
        if self.rng.random() < friend_chance:
            return self.world.friend(person)
        while True:
            other = self.rng.choice(self.world.people)
            if other != person:
                return other
