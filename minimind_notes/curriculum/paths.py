"""Walking a learning path: which path, where a walk starts, what a step runs, which quiz is next.

The CLI shows each step and runs it; the rules of the walk are here, beside the records they read.
"""

from __future__ import annotations

from minimind_notes.curriculum.checklist import quiz_passed
from minimind_notes.curriculum.progress import Progress
from minimind_notes.curriculum.schema import Curriculum, LearningPath, Module, Step
from minimind_notes.errors import UsageError


def find_path(curriculum: Curriculum, name: str) -> LearningPath:
    if name not in curriculum.paths:
        raise UsageError(f"unknown path {name!r}", hint=f"choose one of: {', '.join(curriculum.paths)}")
    return curriculum.paths[name]


def start_index(path: LearningPath, progress: Progress, from_step: int | None = None) -> int:
    """The 0-based step a walk starts at: `from_step` (1-based) when given, else where the last walk
    stopped; a finished path starts over."""
    steps = len(path.steps)
    if from_step is not None:
        if not 1 <= from_step <= steps:
            raise UsageError(f"--from {from_step} is out of range: the {path.id} path has steps 1 to {steps}",
                             hint=f"see them with: minimind path {path.id} --dry-run")
        return from_step - 1
    start = progress.path_position(path.id)
    return 0 if start >= steps else start


def step_command(step: Step, quick: bool) -> list[str]:
    """The `minimind` arguments of a train step; a quick walk makes each training run a smoke run."""
    assert step.command is not None
    wants_quick = quick and step.command[0] == "train" and "--quick" not in step.command
    return [*step.command, *(["--quick"] if wants_quick else [])]


def current_path(curriculum: Curriculum, progress: Progress) -> str:
    """The path the learner walked most recently, else systematic (else the first)."""
    used = sorted(progress.data["paths"].items(), key=lambda kv: kv[1].get("date", ""), reverse=True)
    name = next((p for p, _ in used if p in curriculum.paths), None)
    return name or ("systematic" if "systematic" in curriculum.paths else next(iter(curriculum.paths)))


def next_quiz(curriculum: Curriculum, progress: Progress) -> tuple[str, Module | None]:
    """(the current path, its first module with an unpassed quiz, or None when all are passed)."""
    name = current_path(curriculum, progress)
    modules = dict.fromkeys(step.module for step in curriculum.paths[name].steps if step.module)
    for module_id in modules:
        module = curriculum.module(module_id)
        if module.quiz and not quiz_passed(progress, module.id):
            return name, module
    return name, None
