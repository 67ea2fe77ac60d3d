"""`minimind exercise`: implement a component yourself, graded against the real one (list, start, check, hint,
solution). Grading runs in a child process with a time limit (exercises/runner.py); passes go to the progress file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from minimind_notes.cli.console import console
from minimind_notes.cli.shared import LANG_OPTION, group, session, strings

exercise_app = group("Exercises: implement a component yourself, graded against the real model.",
                     context_settings={"help_option_names": ["-h", "--help"]})
t = strings("exercise")

DEFAULT_DIR = Path("minimind-exercises")
DIR_OPTION = typer.Option(DEFAULT_DIR, "--dir", help="Your exercises folder (default ./minimind-exercises).")
NAME_ARGUMENT = typer.Argument(..., help="The exercise (see `minimind exercise list`), e.g. rmsnorm.")


def exercise_file(folder: Path, name: str) -> Path:
    return folder / f"{name}.py"


def status(progress, name: str, folder: Path = DEFAULT_DIR) -> str:
    """not_started, started (a file, never checked), failing or passed (the last check)."""
    record = progress.exercise(name) or {}
    if record.get("checks"):
        return "passed" if record.get("passed") else "failing"
    return "started" if exercise_file(folder, name).exists() else "not_started"


STATUS_STYLE = {"not_started": "dim", "started": "yellow", "failing": "red", "passed": "green"}


@exercise_app.command("list")
def list_cmd(
    module: str | None = typer.Argument(None, help="Only this module's exercises (id, alias or number)."),
    folder: Path = DIR_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    lang: str | None = LANG_OPTION,
) -> None:
    """The exercises: their module, minutes and your status (not started, failing, passed)."""
    from rich.table import Table

    from minimind_notes.curriculum.resolve import find_module
    from minimind_notes.exercises.registry import all_exercises
    from minimind_notes.i18n import pick

    curriculum, progress, lang = session(lang)
    chosen = find_module(curriculum, module).id if module else None
    exercises = [e for e in all_exercises() if chosen in (None, e.module)]
    rows = [{"name": e.name, "module": e.module, "minutes": e.minutes, "title": pick(e.title, lang),
             "status": status(progress, e.name, folder)} for e in exercises]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title=t("title", lang), title_justify="left")
    for column in ("name", "module", "minutes", "what", "status"):
        table.add_column(t(column, lang))
    for row in rows:
        style = STATUS_STYLE[row["status"]]
        table.add_row(f"[bold]{row['name']}[/]", row["module"], str(row["minutes"]), row["title"],
                      f"[{style}]{t(row['status'], lang)}[/]")
    console.print(table)


def write_skeleton(name: str, folder: Path, lang: str) -> Path:
    """The exercise's skeleton in `folder`; an existing file is never overwritten."""
    from minimind_notes.errors import MiniMindError
    from minimind_notes.exercises.registry import find_exercise
    from minimind_notes.exercises.skeleton import skeleton
    from minimind_notes.fileio import atomic_write_text, check_writable_folder

    exercise = find_exercise(name)
    path = exercise_file(folder, exercise.name)
    if path.exists():
        raise MiniMindError(f"{path} already exists: it is your work, so it is not overwritten",
                            hint=f"check it with `minimind exercise check {exercise.name}`, "
                                 "or move it away to start over")
    check_writable_folder(folder, hint="pass --dir a folder you can write to (it is created if missing)")
    atomic_write_text(path, skeleton(exercise, lang))
    return path


@exercise_app.command()
def start(name: str = NAME_ARGUMENT, folder: Path = DIR_OPTION, lang: str | None = LANG_OPTION) -> None:
    """Write the exercise's skeleton (signature, shapes, conventions; the body to write) into your folder."""
    from minimind_notes.exercises.registry import find_exercise

    _, _, lang = session(lang)
    exercise = find_exercise(name)
    path = write_skeleton(exercise.name, folder, lang)
    console.print(t("written", lang, path=path, name=exercise.name))


def print_report(report, path: Path, seconds: float, lang: str) -> None:
    from rich.markup import escape

    for test in report.log[:report.tests]:
        console.print(f"[green]{escape(t('test_ok', lang, test=test))}[/]")
    if report.passed:
        console.print(f"[bold green]{t('all_passed', lang, n=report.tests, seconds=seconds, name=report.exercise)}[/]")
        return
    console.print(f"[red]{escape(t('test_failed', lang, test=report.failed_test or '?'))}[/]")
    where = f" ({t('line', lang, line=report.line, path=path)})" if report.line else ""
    console.print(f"  {escape(report.message or '')}{escape(where)}", soft_wrap=True)
    if report.hint:
        console.print(f"  [yellow]{t('hint', lang)}:[/] {escape(report.hint)}", soft_wrap=True)
    console.print(t("failed", lang, n=report.tests, seconds=seconds, name=report.exercise))


def train_and_compare(exercise, path: Path, lang: str, quiet: bool = False) -> dict:
    """--train: loss curves with the real component and the learner's; the comparison as a dict (printed
    unless quiet: --json prints only the JSON)."""
    from rich.progress import Progress

    from minimind_notes.exercises.learner import load_source
    from minimind_notes.exercises.training import AGREE, STEPS, loss_curves

    namespace = load_source(path.read_text(encoding="utf-8"), str(path))  # it passed: it loads
    if not quiet:
        console.print(t("training", lang, steps=STEPS, name=exercise.name))
    started = time.perf_counter()
    with Progress(console=console, transient=True, disable=quiet) as bar:
        task = bar.add_task("train", total=STEPS)
        curves = loss_curves(exercise, namespace, on_step=lambda step: bar.update(task, completed=step))
    seconds = time.perf_counter() - started
    if not quiet:
        for step in sorted({0, STEPS // 4, STEPS // 2, 3 * STEPS // 4, STEPS - 1}):
            console.print(t("curves", lang, step=step + 1, ref=curves.reference[step], mine=curves.learner[step]))
        verdict = "agree" if curves.agree else "disagree"
        console.print(t(verdict, lang, gap=curves.max_gap, steps=STEPS, tol=AGREE, seconds=seconds))
    return {**curves.to_dict(), "seconds": seconds}


@exercise_app.command()
def check(
    name: str = NAME_ARGUMENT,
    folder: Path = DIR_OPTION,
    file: Path | None = typer.Option(None, "--file", help="Grade this file instead of DIR/NAME.py."),
    train: bool = typer.Option(False, "--train", help="After a pass, train the tiny model with your component "
                                                      "and with the real one: the loss curves must agree."),
    time_limit: float = typer.Option(60.0, "--time-limit", min=1.0, help="Seconds the grading may take."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Grade your file: signatures, shapes, values over seeds/sizes/dtypes, edge cases, gradients, and your
    component inside a tiny MiniMind."""
    from minimind_notes.errors import MiniMindError
    from minimind_notes.exercises.registry import exercise as load_exercise
    from minimind_notes.exercises.registry import find_name
    from minimind_notes.exercises.runner import check_file

    _, progress, lang = session(lang)
    name = find_name(name)  # the exercise itself (and torch) is loaded in the child process
    path = file or exercise_file(folder, name)
    if not path.is_file():
        raise MiniMindError(f"no file {path}", hint=f"write the skeleton with `minimind exercise start {name}`"
                                                    + (" --dir " + str(folder) if folder != DEFAULT_DIR else ""))
    started = time.perf_counter()
    report = check_file(name, path.resolve(), lang, time_limit)
    seconds = time.perf_counter() - started
    progress.record_exercise_check(name, report.passed)
    result = {**report.to_dict(), "file": str(path), "seconds": seconds}
    if not as_json:
        print_report(report, path, seconds, lang)
    if train and report.passed:
        exercise = load_exercise(name)
        if exercise.patch is None:
            if not as_json:
                console.print(t("no_train", lang, name=name))
        else:
            result["train"] = train_and_compare(exercise, path, lang, quiet=as_json)
    elif train and not as_json:
        console.print(t("train_after_pass", lang))
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    if not report.passed or not result.get("train", {}).get("agree", True):
        raise typer.Exit(1)


@exercise_app.command()
def hint(name: str = NAME_ARGUMENT, lang: str | None = LANG_OPTION) -> None:
    """The next hint (each call shows one more)."""
    from rich.markup import escape

    from minimind_notes.exercises.registry import find_exercise
    from minimind_notes.i18n import pick

    _, progress, lang = session(lang)
    exercise = find_exercise(name)
    shown = min(progress.record_exercise_hint(exercise.name), len(exercise.hints))
    for i, text in enumerate(exercise.hints[:shown]):
        console.print(f"[yellow]{t('hint_n', lang, i=i + 1, n=len(exercise.hints))}:[/] {escape(pick(text, lang))}")
    if shown == len(exercise.hints):
        console.print(t("no_more_hints", lang, name=exercise.name))


@exercise_app.command()
def solution(name: str = NAME_ARGUMENT, lang: str | None = LANG_OPTION) -> None:
    """The reference solution, once you have run `check` at least once, and where the real code lives."""
    from rich.syntax import Syntax

    from minimind_notes.errors import MiniMindError
    from minimind_notes.exercises.registry import find_exercise

    _, progress, lang = session(lang)
    exercise = find_exercise(name)
    if not (progress.exercise(exercise.name) or {}).get("checks"):
        raise MiniMindError(f"the solution of {exercise.name} opens after your first check",
                            hint=f"try it first: `minimind exercise start {exercise.name}`, then "
                                 f"`minimind exercise check {exercise.name}` (a failing check counts)")
    console.rule(t("solution", lang, name=exercise.name))
    console.print(Syntax(exercise.solution, "python"))
    console.print(t("real_code", lang, where=exercise.real_code))
