"""Shared rich consoles, the error printer and the training progress bar. Imported by every command,
so kept light."""

from __future__ import annotations

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def note(text: str) -> None:
    """A line about what a command chose for the user (stderr, so stdout stays the result), printed as is."""
    err_console.print(text, style="dim", markup=False, soft_wrap=True)


def print_error(message: str, hint: str | None = None) -> None:
    from rich.markup import escape  # a path or a row may hold "[...]": print it, never parse it

    err_console.print(f"[bold red]Error:[/] {escape(message)}", soft_wrap=True)
    if hint:
        err_console.print(f"[yellow]Hint:[/] {escape(hint)}", soft_wrap=True)


class ProgressBar:
    """The trainer's display in the terminal: a rich progress bar (step, loss, LR, tokens/s, ETA)."""

    def __init__(self, total: int, start: int) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("step {task.completed}/{task.total}"), BarColumn(), TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(), console=console, transient=False)
        self.task = self.progress.add_task("train", total=total, completed=start, info="")

    def __enter__(self) -> ProgressBar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def update(self, step: int, logs: dict[str, float]) -> None:
        info = f"loss {logs.get('loss', float('nan')):.3f} lr {logs.get('lr', 0):.2e}"
        if "tokens_per_s" in logs:
            info += f" {logs['tokens_per_s']:,.0f} tok/s"
        self.progress.update(self.task, completed=step, info=info)
