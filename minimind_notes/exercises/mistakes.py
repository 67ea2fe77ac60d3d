"""Hint matching: a failing learner output is compared with each known mistake's output on the same case;
the mistake it equals names the bug. A learner who crashes where a mistake crashes the same way gets its hint."""

from __future__ import annotations

from functools import cache
from typing import Any

from minimind_notes.exercises.compare import difference
from minimind_notes.exercises.learner import Problem, call, load_source
from minimind_notes.exercises.spec import Case, Exercise, Mistake
from minimind_notes.exercises.tensors import cloned


@cache
def _namespace(source: str, filename: str) -> dict[str, Any]:
    return load_source(source, filename)


def solution_namespace(exercise: Exercise) -> dict[str, Any]:
    return _namespace(exercise.solution, f"<solution {exercise.name}>")


def mistake_namespace(exercise: Exercise, mistake: Mistake) -> dict[str, Any]:
    return _namespace(mistake.apply(exercise.solution), f"<mistake {exercise.name}:{mistake.id}>")


def matching_mistake(exercise: Exercise, case: Case, got: Any, crash: Problem | None = None) -> Mistake | None:
    """The first known mistake whose output on `case` equals the learner's `got` (or that crashes too)."""
    for mistake in exercise.mistakes:
        filename = f"<mistake {exercise.name}:{mistake.id}>"
        try:
            theirs = call(mistake_namespace(exercise, mistake), case.function, cloned(case.args), filename)
        except Problem as p:
            if crash is not None and crash.kind == p.kind == "crash" and crash.error == p.error:
                return mistake
            continue
        if crash is None and difference(theirs, got, case.atol, case.rtol) is None:
            return mistake
    return None
