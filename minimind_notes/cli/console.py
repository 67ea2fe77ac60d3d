"""Shared rich consoles and the error printer. Imported by every command, so kept light."""

from __future__ import annotations

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def print_error(message: str, hint: str | None = None) -> None:
    err_console.print(f"[bold red]Error:[/] {message}", markup=True, soft_wrap=True)
    if hint:
        err_console.print(f"[yellow]Hint:[/] {hint}", soft_wrap=True)
