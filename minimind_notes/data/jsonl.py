"""Read JSONL one validated row at a time.

A line that is not JSON (or not an object) stops with `file.jsonl:LINE: what is wrong`,
unless skip_bad=True, which skips and counts such lines (`BadLines.count`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from minimind_notes.errors import MiniMindError


class DataError(MiniMindError):
    pass


def iter_jsonl(path: str | os.PathLike, skip_bad: bool = False,
               bad: list[str] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, row). Bad lines raise DataError, or with skip_bad are appended to `bad`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    with open(path, encoding="utf-8", errors="strict") as f:
        lineno = 0
        while True:
            try:
                line = f.readline()
            except UnicodeDecodeError as e:
                raise DataError(f"{path}:{lineno + 1}: not UTF-8 text ({e.reason})") from e
            if not line:
                return
            lineno += 1
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError(f"expected a JSON object, got {type(row).__name__}")
            except ValueError as e:
                problem = f"{path}:{lineno}: not a JSON object ({e})"
                if not skip_bad:
                    raise DataError(problem, hint="fix the line, or pass --skip-bad to skip such lines") from e
                if bad is not None:
                    bad.append(problem)
                continue
            yield lineno, row


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every row of a JSONL file (validated as iter_jsonl does)."""
    return [row for _, row in iter_jsonl(path)]


def write_jsonl(path: str | os.PathLike, rows: list[dict[str, Any]]) -> Path:
    """One JSON object per line, UTF-8 as is (not \\u escapes), "\\n" line ends on every OS."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return path
