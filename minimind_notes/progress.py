"""The learner's progress: a small JSON file under MINIMIND_HOME (default ~/.minimind).

Written atomically. A corrupt or unreadable file is moved aside to
`progress.json.bak-<time>` and a fresh one starts: the learner is told, nothing crashes.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from minimind_notes.fileio import atomic_write_text

VERSION = 1


def home_dir() -> Path:
    return Path(os.environ.get("MINIMIND_HOME") or Path.home() / ".minimind")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def empty() -> dict[str, Any]:
    return {"version": VERSION, "experiments": {}, "quizzes": {}, "training": {}, "paths": {}}


class Progress:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or home_dir() / "progress.json"
        self.warning: str | None = None  # set when a broken file was moved aside
        self.data = self._load()

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return empty()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("experiments", {}), dict):
                raise ValueError("not a progress record")
        except (OSError, ValueError, UnicodeDecodeError) as e:
            backup = self.path.with_name(f"{self.path.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
            try:
                os.replace(self.path, backup)
                where = f"moved to {backup}"
            except OSError:
                where = "left in place"
            self.warning = f"progress file {self.path} was unreadable ({e}); {where}; starting fresh"
            return empty()
        base = empty()
        base.update(data)
        return base

    def save(self) -> None:
        atomic_write_text(self.path, json.dumps(self.data, indent=2, ensure_ascii=False))

    # -- experiments -------------------------------------------------------------------
    def record_experiment(self, module: str, experiment: str, passed: bool, quick: bool,
                          seconds: float, checks: int) -> None:
        self.data["experiments"][f"{module}/{experiment}"] = {
            "passed": passed, "quick": quick, "seconds": seconds, "checks": checks, "date": now()}
        self.save()

    def experiment(self, module: str, experiment: str) -> dict[str, Any] | None:
        return self.data["experiments"].get(f"{module}/{experiment}")

    # -- paths ---------------------------------------------------------------------------
    def path_position(self, path_id: str) -> int:
        return int(self.data["paths"].get(path_id, {}).get("next_step", 0))

    def set_path_position(self, path_id: str, next_step: int, total: int) -> None:
        entry = self.data["paths"].setdefault(path_id, {})
        entry.update(next_step=next_step, total=total, date=now())
        if next_step >= total:
            entry["completed"] = now()
        self.save()
