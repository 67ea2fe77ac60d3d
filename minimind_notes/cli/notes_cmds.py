"""`minimind notes init|log|check`: the learner's learning log and knowledge base."""

from __future__ import annotations

from pathlib import Path

import typer

from minimind_notes.cli.console import console
from minimind_notes.cli.shared import LANG_OPTION, group

notes_app = group("Your learning log and knowledge base (docs/ of your folder).")

DIR_ARG = typer.Argument(Path("."), help="Your learning folder; the notes live in its docs/.")


@notes_app.command("init")
def init(folder: Path = DIR_ARG, lang: str | None = LANG_OPTION) -> None:
    """Write learning_log.md and knowledge_base.md templates; existing files are kept."""
    from minimind_notes.curriculum.notes import init_notes
    from minimind_notes.i18n import resolve_lang

    for path, written in init_notes(folder, resolve_lang(lang)):
        console.print(f"[green]wrote[/] {path}" if written else f"[yellow]kept[/] {path} (already exists)")


@notes_app.command("log")
def log(
    text: str = typer.Argument(..., help="What you did, in one line."),
    folder: Path = typer.Option(Path("."), "--dir", help="Your learning folder."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Add a line to today's entry of docs/learning_log.md."""
    from minimind_notes.curriculum.notes import LOG, append_log
    from minimind_notes.i18n import resolve_lang

    path = folder / "docs" / LOG
    where = append_log(path, text, resolve_lang(lang))
    console.print(f"Added to {where} in {path}.")


@notes_app.command("check")
def check(folder: Path = DIR_ARG) -> None:
    """Validate the notes: dates valid and newest first, topics and Q numbers consecutive."""
    from minimind_notes.curriculum.notes import check_notes

    problems = check_notes(folder)
    for p in problems:
        console.print(f"[red]✗[/] {p}", soft_wrap=True)
    if problems:
        console.print(f"{len(problems)} problem(s).")
        raise typer.Exit(1)
    console.print("[green]✓[/] notes are in order.")
