"""`minimind progress`: the seed's checklists, ticked from what was recorded."""

from __future__ import annotations

import json

import typer

from minimind_notes.cli.console import console
from minimind_notes.cli.shared import LANG_OPTION, group, session, strings

progress_app = group("Your checklists, from experiments, quizzes and training runs.", no_args_is_help=False)



t = strings("progress")


@progress_app.callback(invoke_without_command=True)
def show(
    ctx: typer.Context,
    path: str = typer.Option("", "--path", help="One path (quick, systematic, mastery); default all."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Checklists per path, each item ticked from recorded facts, with a bar per path."""
    if ctx.invoked_subcommand:
        return
    from rich.table import Table

    from minimind_notes.curriculum.checklist import headline, progress_report
    from minimind_notes.curriculum.paths import find_path
    from minimind_notes.i18n import pick

    curriculum, progress, lang = session(lang)
    if path:
        find_path(curriculum, path)
    names = [path] if path else list(curriculum.paths)
    report = progress_report(curriculum, progress, names)
    if as_json:
        console.print_json(json.dumps(report, ensure_ascii=False))
        return
    for name in names:
        items = report["paths"][name]
        done = sum(i["done"] for i in items)
        table = Table(title=t("title", lang, title=pick(curriculum.paths[name].title, lang), done=done,
                              n=len(items)), title_justify="left", show_header=False)
        table.add_column(t("status", lang))
        table.add_column(t("item", lang))
        table.add_column(t("evidence", lang), justify="right")
        for i in items:
            table.add_row("[green]✓[/]" if i["done"] else "[dim]☐[/]", pick(i["item"], lang), i["detail"])
        console.print(table)
        share = done / max(len(items), 1)
        console.print(f"[green]{'█' * round(30 * share)}[/][dim]{'░' * (30 - round(30 * share))}[/] {share:.0%}")
        console.print()
    modules = Table(title=t("modules", lang), title_justify="left")
    for col in ("", t("item", lang), t("experiments", lang), t("quiz", lang)):
        modules.add_column(col)
    for m in curriculum.modules:
        r = report["modules"][m.id]
        best = "-" if not r["has_quiz"] else ("·" if r["quiz_best"] is None else f"{r['quiz_best']:.0%}")
        modules.add_row("[green]✓[/]" if r["done"] else "☐", f"{m.id}  {pick(m.title, lang)}",
                        f"{r['experiments_passed']}/{r['experiments']}", best)
    console.print(modules)
    if report["training"]:
        runs = Table(title=t("training", lang), title_justify="left")
        for col in ("stage", "date", "steps", "held-out result", "own data"):
            runs.add_column(col)
        for stage, run in report["training"].items():
            runs.add_row(stage, run["date"][:16], str(run.get("steps", "")), headline(run),
                         "yes" if run.get("own_data") else "")
        console.print(runs)
    console.print(f"[dim]{progress.path}[/]")


@progress_app.command()
def reset(
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Start your progress over (the old file is kept as a backup)."""
    from minimind_notes.curriculum.progress import Progress
    from minimind_notes.i18n import resolve_lang

    lang = resolve_lang(lang)
    if not yes and not typer.confirm(t("reset_q", lang), default=False):
        console.print(t("kept", lang))
        raise typer.Exit(1)
    backup = Progress.shared().reset()
    console.print(t("reset_done", lang, backup=backup or "-"))
