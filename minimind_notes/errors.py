"""One exception type for everything a user can get wrong.

The CLI catches `MiniMindError` and prints its message and hint without a
traceback; library callers get an ordinary exception they can catch.
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
