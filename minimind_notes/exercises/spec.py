"""What an exercise is: the learner's functions, the project's real component they are graded against,
the cases that test them, and the typical wrong implementations whose outputs give a targeted hint.

The reference `solution` is a file a learner could have written (from scratch, no project imports beyond
those its skeleton gives). Each `Mistake` is that file with one edit: a typical bug. A learner whose output
equals a mistake's output on the failing case gets that mistake's hint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Text = dict[str, str]  # {"en": ..., "zh": ...}


@dataclass
class Case:
    """One call of a learner's function, compared with the oracle's answer on the same arguments."""

    test: str  # what the case tests, as the failure names it: "values fp32, seed 1, shape (2, 5, 8)"
    function: str  # the learner's function to call
    args: tuple[Any, ...]
    atol: float = 1e-5
    rtol: float = 1e-4


@dataclass
class Mistake:
    """A typical wrong implementation: the solution with `old` replaced by `new` (once)."""

    id: str
    old: str
    new: str
    hint: Text

    def apply(self, solution: str) -> str:
        if solution.count(self.old) != 1:
            raise ValueError(f"mistake {self.id}: {self.old!r} must occur exactly once in the solution")
        return solution.replace(self.old, self.new)


@dataclass
class Exercise:
    name: str
    module: str  # the curriculum module it belongs to
    minutes: int
    title: Text
    solution: str  # source of the reference solution file
    docs: dict[str, Text]  # function name -> the skeleton's docstring (what to implement, shapes, conventions)
    hints: list[Text]  # progressive: `minimind exercise hint` shows one more each time
    real_code: str  # where the project's own implementation lives
    oracle: dict[str, Callable[..., Any]]  # function name -> the project's component, same signature
    cases: Callable[[], Iterator[Case]]  # shapes, values over seeds/sizes/dtypes, edge cases
    mistakes: list[Mistake]
    grad_cases: Callable[[], Iterator[Case]] = lambda: iter(())  # float64, small: gradcheck
    # (reference logits, logits with the learner's component) of a tiny MiniMind; None: not a model part
    plug: Callable[[dict[str, Any]], tuple[Any, Any]] | None = None
    # put the learner's component into a model in place (for `check --train`); None: no training check
    patch: Callable[[Any, dict[str, Any]], None] | None = None

    @property
    def functions(self) -> list[str]:
        return list(self.docs)
