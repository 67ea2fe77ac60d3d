"""Shared rich consoles and the error printer. Imported by every command, so kept light."""

from __future__ import annotations

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def print_error(message: str, hint: str | None = None) -> None:
    from rich.markup import escape  # a path or a row may hold "[...]": print it, never parse it

    err_console.print(f"[bold red]Error:[/] {escape(message)}", soft_wrap=True)
    if hint:
        err_console.print(f"[yellow]Hint:[/] {escape(hint)}", soft_wrap=True)
