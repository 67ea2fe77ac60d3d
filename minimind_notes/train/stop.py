"""Stop a training run cleanly on Ctrl-C (SIGINT) or SIGTERM.

The first signal only raises a flag: the step in flight finishes (all its micro-batches), the
trainer saves a consistent state at that step boundary and exits, and `--resume` continues
exactly. A second Ctrl-C aborts at once without saving (the last saved state stays).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """A context manager that turns SIGINT/SIGTERM into `requested` (the signal's name) while it is open."""

    def __init__(self, echo: Any = print) -> None:
        self.echo = echo
        self.requested: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt  # the second Ctrl-C: abort now, without saving
        self.requested = name
        self.echo(f"[yellow]{name}: stopping after this step to save a consistent state "
                  "(Ctrl-C again aborts without saving).[/]")
