"""The learner's progress: a small JSON file under MINIMIND_HOME (default ~/.minimind).

Several processes share it (a quiz in one terminal while an experiment runs in another), so
every record is a merge: lock `progress.json.lock`, re-read the file, apply the one change,
write it atomically, unlock. Readers re-read it too (no stale copy outlives a change on disk).

Nothing here turns a finished run into a failure: a file that cannot be written (read-only
home, MINIMIND_HOME under a file, a full disk) prints one warning and the result stands.
A corrupt file is moved aside to `progress.json.bak-<time>` and a fresh one starts.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from minimind_notes.content import home_dir
from minimind_notes.errors import MiniMindError, warn_once
from minimind_notes.fileio import atomic_write_text, file_lock

VERSION = 1
SECTIONS = ("experiments", "quizzes", "training", "paths", "exercises")
T = TypeVar("T")
_shared: dict[Path, Progress] = {}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def empty() -> dict[str, Any]:
    return {"version": VERSION, **{section: {} for section in SECTIONS}}


NUMBER = (int, float)
# The fields readers rely on, and their types: a record whose field has another type is as broken as
# bad JSON (`minimind progress` would crash on it). Fields not named here are kept as they are.
FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "experiments": {"passed": (bool,), "quick": (bool,), "seconds": NUMBER, "checks": (int,), "date": (str,)},
    "quizzes": {"best": NUMBER, "missed": (list,), "attempts": (list,), "date": (str,)},
    "training": {"date": (str,), "own_data": (bool,), "steps": (int,), "val_ppl": NUMBER,
                 "val_reward_acc": NUMBER, "val_accuracy": NUMBER},
    "paths": {"next_step": (int,), "total": (int,), "date": (str,), "completed": (str,)},
    "exercises": {"passed": (bool,), "passed_once": (bool,), "checks": (int,), "hints": (int,), "date": (str,)},
}
REQUIRED = {"experiments": ("passed",), "quizzes": ("best", "missed", "attempts"), "training": ("date",),
            "paths": ("next_step",), "exercises": ()}


def record_problem(data: Any) -> str | None:
    """What makes `data` something other than a progress record (None: nothing). Sections are objects
    of records (training: of lists of runs), each record an object with FIELDS of their types."""
    if not isinstance(data, dict):
        return f"a {type(data).__name__}, not an object"
    for section in SECTIONS:
        records = data.get(section, {})
        if not isinstance(records, dict):
            return f"{section} is a {type(records).__name__}, not an object"
        for name, record in records.items():
            if section != "training":
                problem = field_problem(section, record)
            elif isinstance(record, list):
                problem = next((f"[{i}]{p}" for i, run in enumerate(record) if (p := field_problem(section, run))),
                               None)
            else:
                problem = " is not a list of runs"
            if problem:
                return f"{section}.{name}{problem}"
    return None


def field_problem(section: str, record: Any) -> str | None:
    """' has no best', '.best is 'x'', ...: what is wrong with one record of `section`, or None."""
    if not isinstance(record, dict):
        return f" is a {type(record).__name__}, not an object"
    missing = [key for key in REQUIRED[section] if key not in record]
    if missing:
        return f" has no {', '.join(missing)}"
    wrong = next((key for key, types in FIELDS[section].items()
                  if key in record and not isinstance(record[key], types)), None)
    if wrong:
        return f".{wrong} is {record[wrong]!r}"
    if section == "quizzes" and not (all(isinstance(q, str) for q in record["missed"])
                                     and all(isinstance(a, dict) for a in record["attempts"])):
        return " has missed questions or attempts of the wrong kind"
    return None


class Progress:
    """Records of experiments, quizzes, training runs and path positions.

    Use `Progress.shared()` (or `progress()`) in commands: one object per process and file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or home_dir() / "progress.json"
        self.warning: str | None = None  # why the file was moved aside or cannot be used, if it was
        self._unsaved: dict[str, Any] | None = None  # the records in memory after a failed write
        self._read()  # a broken file is reported (and moved aside) now, not at the first record

    @classmethod
    def shared(cls) -> Progress:
        """The process's one Progress for the current MINIMIND_HOME."""
        path = home_dir() / "progress.json"
        if path not in _shared:
            _shared[path] = cls(path)
        return _shared[path]

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    @property
    def data(self) -> dict[str, Any]:
        """The records as they are on disk now (change them through record_*)."""
        return self._unsaved if self._unsaved is not None else self._read()

    # -- reading and merging -------------------------------------------------------------
    def _read(self, locked: bool = False) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_bytes().decode("utf-8"))
            problem = record_problem(data)
            if problem:
                raise ValueError(f"not a progress record: {problem}")
        except (FileNotFoundError, NotADirectoryError):  # nothing recorded yet (or nowhere to record it)
            return empty()
        except OSError as e:  # a folder named progress.json, no permission
            if locked:
                raise  # a writer must not replace what it could not read
            self._cannot_use(e)
            return empty()
        except ValueError as e:  # includes UnicodeDecodeError
            return self._move_aside(e) if locked else self._repair()
        return {**empty(), **data}

    def _repair(self) -> dict[str, Any]:
        """A corrupt file seen without the lock: look again under it (a writer may have just replaced it)."""
        try:
            with file_lock(self.lock_path):
                return self._read(locked=True)
        except OSError as e:
            self._cannot_use(e)
            return empty()

    def _backup_path(self) -> Path:
        """`progress.json.bak-<time>`, with -1, -2, ... when that second already has one."""
        stem = f"{self.path.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}"
        names = (stem + (f"-{i}" if i else "") for i in itertools.count())
        return next(p for name in names if not (p := self.path.with_name(name)).exists())

    def _move_aside(self, error: Exception) -> dict[str, Any]:
        backup = self._backup_path()
        try:
            os.replace(self.path, backup)
            where = f"moved to {backup}"
        except OSError:
            where = "left in place"
        self.warning = f"progress file {self.path} was unreadable ({error}); {where}; starting fresh"
        warn_once(self.warning)
        return empty()

    def _cannot_use(self, error: OSError) -> None:
        blocker = next((p for p in self.path.parents if p.exists() and not p.is_dir()), None)
        if isinstance(error, (FileExistsError, NotADirectoryError)) and blocker:
            why = f"{blocker} is a file, not a folder"
        else:
            why = f"{error.strerror}: {error.filename}" if error.strerror and error.filename else str(error)
        self.warning = (f"progress could not be recorded in {self.path} ({why}); results "
                        "still stand but are not remembered. Make that folder writable, or set MINIMIND_HOME "
                        "to a writable folder.")
        warn_once(self.warning)

    def _update(self, change: Callable[[dict[str, Any]], T]) -> T:
        """Apply `change` to the file's current records under the lock. If the file cannot be
        written, keep the change in memory, warn once, and carry on: a finished run, experiment
        or quiz never fails for its bookkeeping."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with file_lock(self.lock_path):
                data = self._read(locked=True)
                result = change(data)
                atomic_write_text(self.path, json.dumps(data, indent=2, ensure_ascii=False))
            self._unsaved = None
            return result
        except OSError as e:
            self._cannot_use(e)
            self._unsaved = data = self._unsaved or self._read()
            return change(data)

    # -- experiments -------------------------------------------------------------------
    def record_experiment(self, module: str, experiment: str, passed: bool, quick: bool,
                          seconds: float, checks: int) -> None:
        record = {"passed": passed, "quick": quick, "seconds": seconds, "checks": checks, "date": now()}
        self._update(lambda data: data["experiments"].update({f"{module}/{experiment}": record}))

    def experiment(self, module: str, experiment: str) -> dict[str, Any] | None:
        return self.data["experiments"].get(f"{module}/{experiment}")

    # -- paths ---------------------------------------------------------------------------
    def path_position(self, path_id: str) -> int:
        return int(self.data["paths"].get(path_id, {}).get("next_step", 0))

    def set_path_position(self, path_id: str, next_step: int, total: int) -> None:
        def change(data: dict[str, Any]) -> None:
            entry = data["paths"].setdefault(path_id, {})
            entry.update(next_step=next_step, total=total, date=now())
            if next_step >= total:
                entry["completed"] = now()

        self._update(change)

    # -- quizzes -------------------------------------------------------------------------
    def record_quiz(self, module: str, correct: int, total: int, missed: list[str], review: bool,
                    questions: int) -> dict[str, Any]:
        """One attempt. A full attempt sets the missed list; a review removes what is now right.
        `questions` is the size of the whole bank, so a review's share counts the whole quiz."""
        def change(data: dict[str, Any]) -> dict[str, Any]:
            entry = data["quizzes"].setdefault(module, {"best": 0.0, "missed": [], "attempts": []})
            entry["attempts"].append({"date": now(), "correct": correct, "total": total, "review": review})
            # a review asks only the missed questions: keep those still wrong
            entry["missed"] = [q for q in entry["missed"] if q in missed] if review else list(missed)
            entry["best"] = max(entry["best"], (questions - len(entry["missed"])) / max(questions, 1))
            entry["date"] = now()
            return entry

        return self._update(change)

    def quiz(self, module: str) -> dict[str, Any] | None:
        return self.data["quizzes"].get(module)

    # -- exercises -----------------------------------------------------------------------
    def record_exercise_check(self, name: str, passed: bool) -> None:
        """One `minimind exercise check`: its result, and whether the exercise ever passed (the checklist's fact)."""
        def change(data: dict[str, Any]) -> None:
            entry = data["exercises"].setdefault(name, {})
            entry.update(passed=passed, passed_once=passed or bool(entry.get("passed_once")),
                         checks=int(entry.get("checks", 0)) + 1, date=now())

        self._update(change)

    def record_exercise_hint(self, name: str) -> int:
        """One more hint shown; returns how many have been shown now."""
        def change(data: dict[str, Any]) -> int:
            entry = data["exercises"].setdefault(name, {})
            entry["hints"] = int(entry.get("hints", 0)) + 1
            return entry["hints"]

        return self._update(change)

    def exercise(self, name: str) -> dict[str, Any] | None:
        return self.data["exercises"].get(name)

    # -- training runs -------------------------------------------------------------------
    def record_training(self, stage: str, metrics: dict[str, Any], data_path: str, own_data: bool) -> None:
        run = {"date": now(), "data": data_path, "own_data": own_data, **metrics}
        self._update(lambda data: data["training"].setdefault(stage, []).append(run))

    def reset(self) -> Path | None:
        """Start over; the old file is kept as progress.json.bak-<time>."""
        backup = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with file_lock(self.lock_path):
                if self.path.exists():
                    backup = self._backup_path()
                    os.replace(self.path, backup)
                atomic_write_text(self.path, json.dumps(empty(), indent=2))
        except OSError as e:
            raise MiniMindError(f"cannot reset {self.path} ({e})",
                                hint="make that folder writable, or set MINIMIND_HOME to a writable folder") from None
        self._unsaved = None
        return backup


def progress() -> Progress:
    """The process's one Progress (see Progress.shared)."""
    return Progress.shared()
