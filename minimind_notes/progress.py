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

    # -- quizzes -------------------------------------------------------------------------
    def record_quiz(self, module: str, correct: int, total: int, missed: list[str], review: bool,
                    questions: int) -> dict[str, Any]:
        """One attempt. A full attempt sets the missed list; a review removes what is now right.
        `questions` is the size of the whole bank, so a review's share counts the whole quiz."""
        entry = self.data["quizzes"].setdefault(module, {"best": 0.0, "missed": [], "attempts": []})
        entry["attempts"].append({"date": now(), "correct": correct, "total": total, "review": review})
        # a review asks only the missed questions: keep those still wrong
        entry["missed"] = [q for q in entry["missed"] if q in missed] if review else list(missed)
        entry["best"] = max(entry["best"], (questions - len(entry["missed"])) / max(questions, 1))
        entry["date"] = now()
        self.save()
        return entry

    def quiz(self, module: str) -> dict[str, Any] | None:
        return self.data["quizzes"].get(module)

    # -- training runs -------------------------------------------------------------------
    def record_training(self, stage: str, metrics: dict[str, Any], data_path: str, own_data: bool) -> None:
        self.data["training"].setdefault(stage, []).append(
            {"date": now(), "data": data_path, "own_data": own_data, **metrics})
        self.save()

    def reset(self) -> Path | None:
        """Start over; the old file is kept as progress.json.bak-<time>."""
        backup = None
        if self.path.exists():
            backup = self.path.with_name(f"{self.path.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(self.path, backup)
        self.data = empty()
        self.save()
        return backup
