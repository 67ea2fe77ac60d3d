"""Grading a learner's file against the project's component, in order: the functions and their signatures,
shapes and values over seeds, sizes and dtypes, edge cases, float64 gradients, and finally the learner's
component inside a tiny MiniMind, whose logits must equal the real model's. It stops at the first failure and
says which test, expected vs got, and (when the output equals a known mistake's) a targeted hint.

`grade_source` runs in-process (the tests use it); `check` (runner.py) runs it in a subprocess with a time limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from minimind_notes.exercises.compare import difference
from minimind_notes.exercises.learner import Problem, call, check_signatures, describe, learner_line, load_source
from minimind_notes.exercises.mistakes import matching_mistake, solution_namespace
from minimind_notes.exercises.report import Report
from minimind_notes.exercises.spec import Case, Exercise
from minimind_notes.exercises.tensors import cloned
from minimind_notes.i18n import pick

PLUG_TOLERANCE = {"atol": 1e-4, "rtol": 1e-4}


def _run_case(exercise: Exercise, namespace: dict[str, Any], case: Case, filename: str) -> tuple[Problem, Any] | None:
    """None when the learner's output matches the oracle's; else (the problem, the output or crash)."""
    expected = exercise.oracle[case.function](*cloned(case.args))
    try:
        got = call(namespace, case.function, cloned(case.args), filename)
    except Problem as p:
        return p, p
    problem = difference(expected, got, case.atol, case.rtol)
    if problem is None:
        return None
    kind = "type" if problem.startswith("returned") else "values"
    line = getattr(getattr(namespace[case.function], "__code__", None), "co_firstlineno", None)
    return Problem(kind, f"{case.function}(): {problem}", line), got


def _gradients(namespace: dict[str, Any], case: Case, filename: str) -> Problem | None:
    """gradcheck in float64: the learner's autograd gradient equals finite differences (no detach, no .item())."""
    import torch

    args = cloned(case.args)
    inputs = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
    out = call(namespace, case.function, args, filename)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    if not any(isinstance(o, torch.Tensor) and o.requires_grad for o in outs):
        return Problem("gradient", f"{case.function}(): the output does not depend differentiably on its inputs "
                                   "(a .detach(), .item(), .numpy() or torch.no_grad() cuts the graph)")

    def fn(*xs: Any) -> Any:
        it = iter(xs)
        full = tuple(next(it) if isinstance(a, torch.Tensor) and a.requires_grad else a for a in args)
        return call(namespace, case.function, full, filename)

    try:
        ok = torch.autograd.gradcheck(fn, tuple(inputs), eps=1e-6, atol=1e-5, rtol=1e-4, raise_exception=False)
    except Problem:
        raise
    except Exception as e:  # gradcheck's own complaints (an output that is not differentiable, ...)
        return Problem("gradient", f"{case.function}(): gradcheck failed: {type(e).__name__}: "
                                   f"{next(iter(str(e).splitlines()), '')}")
    if not ok:
        return Problem("gradient", f"{case.function}(): autograd's gradient differs from finite differences "
                                   "(an in-place edit of a tensor autograd needs, or a non-differentiable step)")
    return None


def grade_namespace(exercise: Exercise, namespace: dict[str, Any], filename: str, lang: str = "en",
                    on_test: Callable[[str], None] = lambda test: None) -> Report:
    report = Report(exercise.name, passed=False)

    def run(test: str, step: Callable[[], tuple[Problem, Any] | Problem | None], case: Case | None = None) -> bool:
        on_test(test)
        report.log.append(test)
        try:
            outcome = step()
        except Problem as p:
            outcome = (p, p)
        except Exception as e:  # the learner's function failed inside a model or gradcheck
            line = learner_line(e, filename)
            outcome = Problem("crash", f"crashed at line {line}: {describe(e)}", line, type(e).__name__)
        if outcome is None:
            report.tests += 1
            return True
        problem, got = outcome if isinstance(outcome, tuple) else (outcome, None)
        report.failed_test, report.kind, report.message, report.line = test, problem.kind, problem.message, problem.line
        if case is not None and problem.kind != "not_implemented":
            crash = got if isinstance(got, Problem) else None
            mistake = matching_mistake(exercise, case, None if crash else got, crash)
            if mistake is not None:
                report.mistake, report.hint = mistake.id, pick(mistake.hint, lang)
        return False

    reference = solution_namespace(exercise)
    if not run("functions and signatures",
               lambda: check_signatures(namespace, reference, exercise.functions)):
        return report
    for case in exercise.cases():
        if not run(case.test, lambda c=case: _run_case(exercise, namespace, c, filename), case):
            return report
    for case in exercise.grad_cases():
        if not run(f"gradients: {case.test}", lambda c=case: _gradients(namespace, c, filename)):
            return report
    if exercise.plug is not None:
        def plugged() -> Problem | None:
            expected, got = exercise.plug(namespace)
            problem = difference(expected, got, **PLUG_TOLERANCE)
            return Problem("plug", f"the tiny MiniMind with your component: {problem}") if problem else None

        if not run("plugged into a tiny MiniMind: it computes what the real model does", plugged):
            return report
    report.passed = True
    return report


def grade_source(exercise: Exercise, source: str, filename: str, lang: str = "en",
                 on_test: Callable[[str], None] = lambda test: None) -> Report:
    """Grade a learner's file given as text (its problems, never a grader traceback, end up in the report)."""
    try:
        namespace = load_source(source, filename)
    except Problem as p:
        return Report(exercise.name, passed=False, failed_test="loading the file", kind=p.kind, message=p.message,
                      line=p.line)
    return grade_namespace(exercise, namespace, filename, lang, on_test)
