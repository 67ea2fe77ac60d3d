"""The curriculum commands: list, run, path, learn."""

from __future__ import annotations

from pathlib import Path

import typer

from minimind_notes.cli.console import console
from minimind_notes.cli.shared import LANG_OPTION, seed_option, session, strings

t = strings("learn")


def list_cmd(
    module: str | None = typer.Argument(None, help="A module to show in detail."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Tiers, modules and experiments, with minutes and what you have done."""
    from rich.table import Table

    from minimind_notes.curriculum.resolve import find_module
    from minimind_notes.i18n import pick

    curriculum, progress, lang = session(lang)
    modules = [find_module(curriculum, module)] if module else curriculum.modules
    for tier_id, tier_title in curriculum.tiers.items():
        in_tier = [m for m in modules if m.tier == tier_id]
        if not in_tier:
            continue
        table = Table(title=f"{t('tier', lang)}: {pick(tier_title, lang)}", title_justify="left")
        for col in ("#", t("module", lang), t("experiment", lang), t("minutes", lang), t("done", lang)):
            table.add_column(col)
        for m in in_tier:
            number = curriculum.modules.index(m) + 1
            done = [progress.experiment(m.id, e.id) for e in m.experiments]
            mark = f"{sum(bool(d and d['passed']) for d in done)}/{len(done)}"
            table.add_row(str(number), f"[bold]{m.id}[/] ({', '.join(m.aliases)})\n{pick(m.title, lang)}",
                          pick(m.question, lang), str(m.minutes), mark)
            for e in m.experiments:
                record = progress.experiment(m.id, e.id)
                status = "" if record is None else ("[green]✓[/]" if record["passed"] else "[red]✗[/]")
                table.add_row("", f"  {e.id}", pick(e.title, lang), str(e.minutes), status)
        console.print(table)


def run_and_report(curriculum, progress, module, experiment, lang: str, quick: bool = False,
                   seed: int = 42, out: Path | None = None, as_json: bool = False, precision: str = "fp32") -> bool:
    """Run one experiment, print its findings (or JSON), record it; True if every check held."""
    import json

    from minimind_notes.fileio import check_writable_folder
    from minimind_notes.i18n import pick
    from minimind_notes.lab.experiment import print_result, run_experiment

    out_dir = check_writable_folder(out or Path("minimind-results") / module.id / experiment.id,
                                    hint="pass --out a folder you can write to (it is created if missing)")
    if not as_json:
        title = pick(experiment.title, lang)
        console.rule(t("running", lang, module=module.id, exp=experiment.id, title=title))
        console.print(f"[italic]{pick(experiment.question, lang)}[/]")
    echo = (lambda text: None) if as_json else console.print
    result = run_experiment(module.path(curriculum.root) / experiment.file, module.id, experiment.id,
                            quick, seed, out_dir, lang, echo, precision)
    progress.record_experiment(module.id, experiment.id, result.passed, quick, result.seconds,
                               len(result.findings))
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        print_result(result, lang, console)
        failed = sum(not f.passed for f in result.findings)
        if failed:
            console.print(f"[red]{t('failed_checks', lang, n=failed)}[/]")
    return result.passed


def run(
    module: str = typer.Argument(..., help="Module: id, alias, number or prefix (normalization, norm, 1)."),
    experiment: str | None = typer.Argument(None, help="Experiment: id, number or a word of its name."),
    all_: bool = typer.Option(False, "--all", help="Run all of the module's experiments."),
    quick: bool = typer.Option(False, "--quick", help="Smaller, faster settings."),
    seed: int = seed_option(42),
    precision: str = typer.Option("fp32", "--precision", "--dtype",
                                  help="What the experiment's training runs in: fp32 (the findings' setting), bf16 "
                                       "or auto. $MINIMIND_PRECISION does not apply."),
    out: Path | None = typer.Option(None, help="Results folder (default ./minimind-results/MODULE/EXP)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Run an experiment: it measures, plots, and checks its findings against the numbers."""
    from minimind_notes.curriculum.resolve import find_experiment, find_module
    from minimind_notes.errors import UsageError
    from minimind_notes.lab.experiment import experiment_precision

    curriculum, progress, lang = session(lang)
    precision = experiment_precision(precision)  # a bad value stops here, before anything runs
    mod = find_module(curriculum, module)
    if all_ == (experiment is not None):
        raise UsageError("name one experiment or give --all",
                         hint=f"e.g. `minimind run {mod.id} exp1` or `minimind run {mod.id} --all`")
    experiments = mod.experiments if all_ else [find_experiment(mod, experiment or "")]
    ok = True
    for exp in experiments:
        out_dir = out / exp.id if (out and all_) else out
        ok &= run_and_report(curriculum, progress, mod, exp, lang, quick, seed, out_dir, as_json, precision)
    if not ok:
        raise typer.Exit(1)


def learn(
    module: str = typer.Argument(..., help="Module: id, alias, number or prefix."),
    code: bool = typer.Option(False, "--code", help="Show the code guide instead of the teaching text."),
    step: int | None = typer.Option(None, "--step", help="Show step N of the module's build and run its code."),
    list_steps: bool = typer.Option(False, "--steps", help="List the steps of the module's build."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Read a module's teaching text (or its code guide, or one step of its build) in the terminal."""
    from minimind_notes.curriculum.resolve import find_module
    from minimind_notes.errors import UsageError

    curriculum, _, lang = session(lang)
    mod = find_module(curriculum, module)
    if sum((code, step is not None, list_steps)) > 1:
        raise UsageError("give only one of --code, --step N and --steps",
                         hint=f"e.g. `minimind learn {mod.id} --steps`, then `minimind learn {mod.id} --step 1`")
    if list_steps:
        show_step_list(curriculum, mod, lang)
    elif step is not None:
        show_and_run_step(curriculum, mod, step, lang)
    else:
        show_markdown(curriculum, mod, lang, code)


def show_step_list(curriculum, module, lang: str) -> None:
    from rich.table import Table

    from minimind_notes.curriculum.steps import load_steps
    from minimind_notes.i18n import pick

    steps = load_steps(curriculum, module)
    table = Table(title=t("steps_title", lang, module=module.id), title_justify="left")
    table.add_column("#")
    table.add_column(t("step_name", lang))
    table.add_column(t("real_code", lang), overflow="fold")
    for i, s in enumerate(steps, 1):
        table.add_row(str(i), pick(s.title, lang), s.real or "")
    console.print(table)
    console.print(t("steps_hint", lang, module=module.id, n=len(steps)))


def show_and_run_step(curriculum, module, number: int, lang: str) -> None:
    """Step N: its title, its text, its code (highlighted), the code's own output, then what to make of it."""
    from rich.markdown import Markdown
    from rich.syntax import Syntax

    from minimind_notes.curriculum.steps import load_steps, pick_step, run_step_code
    from minimind_notes.i18n import pick

    steps = load_steps(curriculum, module)
    step = pick_step(steps, number, module)
    console.rule(f"{module.id} · {t('step', lang, i=number, n=len(steps))}: {pick(step.title, lang)}")
    console.print(Markdown(pick(step.text, lang)))
    console.print(Syntax(step.code.rstrip(), "python", line_numbers=True, word_wrap=True))
    if step.real:
        console.print(t("real_at", lang, real=step.real))
    console.rule(t("output", lang))
    console.file.flush()
    run_step_code(step, f"{module.id} step {number}")
    if step.after:
        console.rule(t("look_back", lang))
        console.print(Markdown(pick(step.after, lang)))
    if number < len(steps):
        console.print(t("next_step", lang, module=module.id, i=number + 1))


def show_markdown(curriculum, module, lang: str, code: bool = False) -> None:
    from rich.markdown import Markdown

    from minimind_notes.data.jsonl import read_text_utf8
    from minimind_notes.i18n import pick

    name = pick(module.code_guide if code else module.teaching, lang)
    text = read_text_utf8(module.path(curriculum.root) / name)
    console.print(Markdown(text))


def path(
    name: str = typer.Argument(..., help="quick, systematic or mastery."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not wait for Enter between steps."),
    from_step: int | None = typer.Option(None, "--from", help="Start at this step number (1 = the start)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the steps without running them."),
    quick: bool = typer.Option(False, "--quick", help="Run experiments and training in quick mode."),
    exercises: bool = typer.Option(True, "--exercises/--no-exercises",
                                   help="Offer each module's exercises after its experiments."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Walk a learning path step by step; it resumes where you stopped."""
    from rich.panel import Panel

    from minimind_notes.curriculum.paths import find_path, start_index
    from minimind_notes.i18n import pick

    curriculum, progress, lang = session(lang)
    lp = find_path(curriculum, name)
    steps = lp.steps
    start = start_index(lp, progress, from_step)
    console.print(Panel(f"{pick(lp.goal, lang)}\n{len(steps)} steps, ~{lp.minutes} min",
                        title=pick(lp.title, lang)))
    if dry_run:
        for i, step in enumerate(steps):
            marker = "→" if i == start else " "
            console.print(f"{marker} {i + 1:2d}. {describe_step(curriculum, step, lang)}")
            if exercises and offers_exercises(step):
                console.print(f"       + {', '.join(e.name for e in module_exercises(step.module))}")
        return
    if start and from_step is None:
        console.print(t("resume", lang, path=name, i=start + 1))
    for i in range(start, len(steps)):
        step = steps[i]
        console.print(Panel(describe_step(curriculum, step, lang, detail=True),
                            title=t("step", lang, i=i + 1, n=len(steps)), border_style="cyan"))
        run_step(curriculum, progress, step, lang, quick, interactive=not yes)
        if exercises and offers_exercises(step):
            offer_exercises(progress, step.module, lang, interactive=not yes)
        progress.set_path_position(name, i + 1, len(steps))
        if not yes and i + 1 < len(steps):
            typer.prompt(t("press", lang), default="", show_default=False, prompt_suffix=" ")
    console.print(f"[bold green]{t('path_done', lang, path=name, n=len(steps))}[/]")


def describe_step(curriculum, step, lang: str, detail: bool = False) -> str:
    from minimind_notes.i18n import pick

    if step.kind == "train":
        command = f"minimind {' '.join(step.command)}"
        return f"{pick(step.title, lang)}: [bold]{command}[/]" if step.title else f"{t('train', lang)}: {command}"
    module = curriculum.module(step.module)
    title = pick(module.title, lang)
    if step.kind == "run":
        exps = [e for e in module.experiments if step.experiment in (None, e.id)]
        what = (pick(exps[0].title, lang) if step.experiment else t("all_experiments", lang))
        text = f"{t('run', lang)}: {title} · {what}"
        if detail:
            text += "\n" + "\n".join(f"  {e.id}: {pick(e.question, lang)}" for e in exps)
        return text
    text = f"{t(step.kind, lang)}: {title}"
    return text + (f"\n{pick(module.question, lang)}" if detail else "")


def run_step(curriculum, progress, step, lang: str, quick: bool, interactive: bool = True) -> None:
    if step.kind == "train":
        import subprocess
        import sys

        from minimind_notes.curriculum.paths import step_command
        from minimind_notes.errors import MiniMindError, RunExists

        args = step_command(step, quick)
        code = subprocess.run([sys.executable, "-m", "minimind_notes", *args]).returncode
        if code == RunExists.exit_code:  # trained on an earlier walk: keep that run, go on
            console.print(t("train_kept", lang))
            return
        if code:
            raise MiniMindError(f"step `minimind {' '.join(args)}` failed (exit code {code})",
                                hint="fix what it reported above, then run the path again: it resumes here")
        return
    module = curriculum.module(step.module)
    if step.kind == "read":
        show_markdown(curriculum, module, lang)
    elif step.kind == "quiz":
        if not interactive:
            console.print(t("quiz_later", lang, module=module.id))
            return
        from minimind_notes.cli.quiz_cmds import quiz

        quiz(module=module.id, shuffle=False, review=False, answers=None, open_questions=True, seed=None,
             lang=lang)
    elif step.kind == "run":
        for exp in module.experiments:
            if step.experiment in (None, exp.id):
                run_and_report(curriculum, progress, module, exp, lang, quick)


def module_exercises(module_id: str) -> list:
    from minimind_notes.exercises.registry import module_exercises as of_module

    return of_module(module_id)


def offers_exercises(step) -> bool:
    """A step that ran all of a module's experiments is followed by the module's exercises, if it has any."""
    return step.kind == "run" and step.experiment is None and bool(module_exercises(step.module))


def offer_exercises(progress, module_id: str, lang: str, interactive: bool) -> None:
    """List the module's exercises with the learner's status; interactively, offer to write each skeleton."""
    from rich.panel import Panel

    from minimind_notes.cli.exercise_cmds import DEFAULT_DIR, STATUS_STYLE, exercise_file, status, write_skeleton
    from minimind_notes.i18n import pick

    et = strings("exercise")
    rows = []
    for exercise in module_exercises(module_id):
        state = status(progress, exercise.name)
        rows.append(f"[bold]{exercise.name}[/] ({exercise.minutes} {et('minutes', lang)}): {pick(exercise.title, lang)}"
                    f" [{STATUS_STYLE[state]}]{et(state, lang)}[/]")
    console.print(Panel("\n".join([et("offer", lang), *rows]), border_style="magenta"))
    if not interactive:
        return
    for exercise in module_exercises(module_id):
        path = exercise_file(DEFAULT_DIR, exercise.name)
        if not path.exists() and typer.confirm(et("offer_start", lang, name=exercise.name, path=path), default=False):
            write_skeleton(exercise.name, DEFAULT_DIR, lang)
            console.print(et("written", lang, path=path, name=exercise.name))
