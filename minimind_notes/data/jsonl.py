"""Read JSONL one validated row at a time, and UTF-8 text with the line of any bad byte.

A line that is not UTF-8, not JSON or not an object stops with `file.jsonl:LINE: what is wrong`,
unless skip_bad=True, which skips such lines and lists each problem in `bad`. Lines end at b"\\n"
only (a stray "\\r" or U+2028 inside a line does not start a new one), so LINE is the line an
editor shows.
"""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from minimind_notes.errors import MiniMindError

NOT_UTF8_HINT = ("convert the file to UTF-8, e.g. `iconv -f GBK -t UTF-8 IN > OUT` for a GBK file, or choose UTF-8 "
                 "as the encoding in your editor's 'Save as'")


class DataError(MiniMindError):
    pass


def require_file(path: str | os.PathLike, what: str = "data file") -> Path:
    """`path` as a Path if it is a readable file, else a DataError that says what it is instead."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{what} {path} is a folder, not a file", hint="pass the path of a file inside it")
    if not path.is_file():
        raise DataError(f"{what} not found: {path}")
    return path


def utf8_problem(data: bytes, offset: int, line_start: int = 0) -> str:
    return f"not UTF-8 text (byte 0x{data[offset]:02x} at column {offset - line_start + 1})"


def decode_utf8(raw: bytes, where: str, error: type[MiniMindError] = DataError) -> str:
    """Text of a whole file's bytes (a leading BOM dropped); bad UTF-8 names `where:LINE`."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        data = e.object  # after the BOM, which e.start counts from
        line_start = data.rfind(b"\n", 0, e.start) + 1
        lineno = data.count(b"\n", 0, e.start) + 1
        raise error(f"{where}:{lineno}: {utf8_problem(data, e.start, line_start)}",
                    hint=NOT_UTF8_HINT) from e


def read_text_utf8(path: str | os.PathLike, error: type[MiniMindError] = DataError) -> str:
    """A UTF-8 text file's content; a missing file or a bad byte is an `error` naming file and line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise error(f"cannot read {path}: {e.strerror}") from e
    return decode_utf8(raw, str(path), error)


def check_text(text: str, where: str) -> str:
    """`text` itself if it is valid Unicode. Bytes that were not UTF-8 reach Python as lone
    surrogates (command-line arguments, some terminals' stdin): name where they came from."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        code = ord(text[e.start])
        what = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"lone surrogate U+{code:04X}"
        raise DataError(f"{where}: not UTF-8 text ({what} at character {e.start + 1})",
                        hint="type or paste the text again, or set your terminal to UTF-8") from None
    return text


def iter_lines(path: str | os.PathLike, skip_bad: bool = False,
               bad: list[str] | None = None) -> Iterator[tuple[int, str]]:
    """Yield (line number, line with its end) of a UTF-8 text file. Lines end at b"\\n" only; a line
    that is not UTF-8 raises DataError, or with skip_bad is skipped and its problem appended to `bad`."""
    path = require_file(path)
    with open(path, "rb") as f:  # binary lines end at b"\n" only
        for lineno, raw in enumerate(f, 1):
            if lineno == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                bad_line(f"{path}:{lineno}: {utf8_problem(raw, e.start)}", skip_bad, bad, NOT_UTF8_HINT)
                continue
            yield lineno, line


def bad_line(problem: str, skip_bad: bool, bad: list[str] | None, fix: str = "fix the line") -> None:
    """Raise the problem of one line, or (skip_bad) note it in `bad` and go on. Callers that
    collect `bad` lines are the commands with --skip-bad, so only their message offers it."""
    if not skip_bad:
        raise DataError(problem, hint=fix + (", or pass --skip-bad to skip such lines" if bad is not None else ""))
    if bad is not None:
        bad.append(problem)


def iter_jsonl(path: str | os.PathLike, skip_bad: bool = False,
               bad: list[str] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, row). Bad lines raise DataError, or with skip_bad are appended to `bad`."""
    for lineno, line in iter_lines(path, skip_bad, bad):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError(f"expected a JSON object, got {type(row).__name__}")
        except ValueError as e:
            bad_line(f"{path}:{lineno}: not a JSON object ({e})", skip_bad, bad)
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
