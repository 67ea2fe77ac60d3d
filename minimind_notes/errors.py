"""One exception type for everything a user can get wrong, and one warning.

The CLI catches `MiniMindError` and prints its message and hint without a
traceback; library callers get an ordinary exception they can catch. `warn_once`
tells what goes on without stopping anything (a cache rebuilt, a file that cannot be written).
"""

from __future__ import annotations


class MiniMindError(Exception):
    """A problem the user can fix: bad input, a missing file, a mismatched checkpoint."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nHint: {self.hint}"


class UsageError(MiniMindError):
    """A wrong name or option on the command line (exit code 2, like typer's own)."""

    exit_code = 2


class RunExists(UsageError):
    """A new training run would replace an earlier one: --resume, --overwrite or --run-name must say what to do.
    Its own exit code lets `minimind path` keep an earlier walk's run and go on."""

    exit_code = 3


_warned: set[str] = set()


def warn_once(message: str) -> None:
    """A warning on stderr, printed once per process however often it recurs."""
    if message in _warned:
        return
    _warned.add(message)
    from rich.console import Console

    Console(stderr=True, highlight=False).print(f"[yellow]Warning:[/] {message}", soft_wrap=True, markup=True)
