"""The seed's checklists, ticked from recorded facts, never from the learner's say-so.

A module is done when every one of its experiments ran with all checks passing and its
quiz (if it has one) scored at least 80%. Each path in curriculum.yaml lists its items with
one rule each:

    experiments: [normalization/exp1, ...]   all ran with every check passing
    modules_done: foundation | all           every module of that tier done
    quizzes_passed: foundation | all         every quiz of that tier scored >= 80%
    trained: [pretrain, full_sft]            a finished training run of each stage
    own_data: true                           a training run on data outside the embedded set
    exercises: [rmsnorm, block]              each exercise passed `minimind exercise check` once
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minimind_notes.curriculum.progress import Progress
from minimind_notes.curriculum.quiz import PASS_SHARE
from minimind_notes.curriculum.schema import ChecklistItem, Curriculum, LearningPath, Module


@dataclass
class CheckResult:
    item: ChecklistItem
    done: bool
    detail: str  # e.g. "3/4 modules", shown beside the item


def experiment_passed(progress: Progress, module: str, experiment: str) -> bool:
    record = progress.experiment(module, experiment)
    return bool(record and record.get("passed"))


def quiz_passed(progress: Progress, module: str) -> bool:
    record = progress.quiz(module)
    return bool(record and record.get("best", 0) >= PASS_SHARE)


def exercise_passed(progress: Progress, name: str) -> bool:
    record = progress.exercise(name)
    return bool(record and record.get("passed_once"))


def module_done(progress: Progress, module: Module) -> bool:
    experiments = all(experiment_passed(progress, module.id, e.id) for e in module.experiments)
    return experiments and (not module.quiz or quiz_passed(progress, module.id))


def _in_tier(curriculum: Curriculum, tier: str) -> list[Module]:
    return [m for m in curriculum.modules if tier == "all" or m.tier == tier]


def check(curriculum: Curriculum, progress: Progress, item: ChecklistItem) -> CheckResult:
    if item.rule == "experiments":
        names = [str(n).partition("/") for n in item.value]
        ok = [experiment_passed(progress, mod, exp) for mod, _, exp in names]
        return CheckResult(item, all(ok), f"{sum(ok)}/{len(ok)}")
    if item.rule == "modules_done":
        modules = _in_tier(curriculum, item.value)
        ok = [module_done(progress, m) for m in modules]
        return CheckResult(item, bool(ok) and all(ok), f"{sum(ok)}/{len(ok)}")
    if item.rule == "quizzes_passed":
        modules = [m for m in _in_tier(curriculum, item.value) if m.quiz]
        ok = [quiz_passed(progress, m.id) for m in modules]
        return CheckResult(item, bool(ok) and all(ok), f"{sum(ok)}/{len(ok)}")
    if item.rule == "exercises":
        ok = [exercise_passed(progress, name) for name in item.value]
        return CheckResult(item, all(ok), f"{sum(ok)}/{len(ok)}")
    training = progress.data.get("training", {})
    if item.rule == "trained":
        ok = [bool(training.get(stage)) for stage in item.value]
        return CheckResult(item, all(ok), f"{sum(ok)}/{len(ok)}")
    if item.rule == "own_data":
        runs = sum(1 for stage_runs in training.values() for run in stage_runs if run.get("own_data"))
        return CheckResult(item, runs > 0, f"{runs} run(s)")
    raise ValueError(f"unknown checklist rule {item.rule!r}")


def checklist(curriculum: Curriculum, progress: Progress, path: LearningPath) -> list[CheckResult]:
    return [check(curriculum, progress, item) for item in path.checklist]


def progress_report(curriculum: Curriculum, progress: Progress, names: list[str]) -> dict[str, Any]:
    """What `minimind progress --json` prints: each path's checklist, each module's state, the last run
    of each training stage, the exercises' records."""
    report: dict[str, Any] = {"file": str(progress.path), "paths": {}, "modules": {}, "training": {}}
    for name in names:
        results = checklist(curriculum, progress, curriculum.paths[name])
        report["paths"][name] = [{"item": r.item.title, "done": r.done, "detail": r.detail} for r in results]
    for m in curriculum.modules:
        q = progress.quiz(m.id)
        report["modules"][m.id] = {
            "done": module_done(progress, m),
            "experiments_passed": sum(experiment_passed(progress, m.id, e.id) for e in m.experiments),
            "experiments": len(m.experiments),
            "quiz_best": q["best"] if q else None,
            "has_quiz": bool(m.quiz),
        }
    for stage, runs in progress.data.get("training", {}).items():
        report["training"][stage] = runs[-1]
    report["exercises"] = progress.data.get("exercises", {})
    return report


def headline(run: dict) -> str:
    """The number that says how a run went: perplexity, preference or arithmetic accuracy."""
    for key, fmt in (("val_ppl", "ppl {:.2f}"), ("val_reward_acc", "preference acc {:.1%}"),
                     ("val_accuracy", "pass@1 {:.1%}")):
        if key in run:
            return fmt.format(run[key])
    return "-"
