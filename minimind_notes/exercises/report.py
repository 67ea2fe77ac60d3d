"""What a check found, as the grader returns it and the child process sends it back (JSON): kept free of torch,
so that `minimind exercise check` itself starts fast."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Report:
    exercise: str
    passed: bool
    tests: int = 0  # tests passed before the end (all of them when passed)
    failed_test: str | None = None
    kind: str | None = None  # Problem.kind of the failure
    message: str | None = None
    line: int | None = None
    hint: str | None = None
    mistake: str | None = None  # the id of the known mistake the output matched
    log: list[str] = field(default_factory=list)  # the tests run, in order

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
