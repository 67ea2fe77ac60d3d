"""Read JSON rows one validated row at a time, and UTF-8 text with the line of any bad byte.

Rows come from JSONL (one object per line) or from a file holding one JSON array of objects (what
`json.dump(rows)` writes), told apart by the file's first character. A line that is not UTF-8, not
JSON or not an object stops with `file.jsonl:LINE: what is wrong`, unless skip_bad=True, which
skips such lines and lists each problem in `bad`. Lines end at b"\\n" only (a stray "\\r" or U+2028
inside a line does not start a new one), so LINE is the line an editor shows.

Whether a data file is rows or plain text is decided by `holds_rows`: by its suffix (.jsonl or
.json, in any case), and a file of any other suffix that starts with a JSON row is refused rather
than read as text (that would train on the JSON syntax).
"""

from __future__ import annotations

import codecs
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from minimind_notes.errors import MiniMindError

ROW_SUFFIXES = (".jsonl", ".json")
ARRAY_HINT = ("a file that starts with [ must be one JSON array of {...} rows; or write one JSON object per line "
              "(JSONL)")
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


BINARY_FORMATS = {b"\x1f\x8b": "gzip", b"PK\x03\x04": "zip", b"(\xb5/\xfd": "zstd", b"BZh": "bzip2",
                  b"\xfd7zXZ\x00": "xz", b"PAR1": "Parquet"}  # how each begins


def check_not_binary(head: bytes, where: str, error: type[MiniMindError] = DataError) -> None:
    """A compressed or Parquet file read as text is one message saying so (not a bad byte to iconv away)."""
    kind = next((kind for magic, kind in BINARY_FORMATS.items() if head.startswith(magic)), None)
    if kind == "Parquet":
        raise error(f"{where} is a Parquet file, not text", hint="convert it to JSONL first, e.g. python -c \"import "
                    "pandas as pd; pd.read_parquet('IN.parquet').to_json('OUT.jsonl', orient='records', lines=True, "
                    "force_ascii=False)\"")
    if kind:
        raise error(f"{where} is a {kind}-compressed file, not text",
                    hint="decompress it first (e.g. `gunzip -k FILE`, `unzip FILE`, `zstd -d FILE`) and pass the "
                         "file inside")


def utf8_problem(data: bytes, offset: int, line_start: int = 0) -> str:
    return f"not UTF-8 text (byte 0x{data[offset]:02x} at column {offset - line_start + 1})"


def decode_utf8(raw: bytes, where: str, error: type[MiniMindError] = DataError) -> str:
    """Text of a whole file's bytes (a leading BOM dropped); bad UTF-8 names `where:LINE`."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        check_not_binary(raw, where, error)
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
                if lineno == 1:
                    check_not_binary(raw, str(path))  # the whole file is unreadable: no line to skip
                bad_line(f"{path}:{lineno}: {utf8_problem(raw, e.start)}", skip_bad, bad, NOT_UTF8_HINT)
                continue
            yield lineno, line


def bad_line(problem: str, skip_bad: bool | None, bad: list[str] | None, fix: str = "fix the line") -> None:
    """Raise the problem of one line, or (skip_bad) note it in `bad` and go on. Callers that
    collect `bad` lines are the commands with --skip-bad, so only their message offers it."""
    if not skip_bad:
        raise DataError(problem, hint=fix + (", or pass --skip-bad to skip such lines" if bad is not None else ""))
    if bad is not None:
        bad.append(problem)


def first_line(path: str | os.PathLike) -> tuple[int, str] | None:
    """(line number, text) of the first line that is not blank (lines that are not UTF-8 passed over)."""
    return next(((n, line) for n, line in iter_lines(path, skip_bad=True) if line.strip()), None)


def is_row(line: str) -> bool:
    """Whether a line is a JSON object, or opens a JSON array of them."""
    line = line.strip()
    if line.startswith("["):
        return line[1:].lstrip()[:1] in ("{", "")
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def holds_rows(path: str | os.PathLike) -> bool:
    """True for a file of JSON rows (.jsonl or .json, in any case), False for plain text. A file of any
    other suffix whose first line is a JSON row is refused: read as text it would be one document of
    JSON syntax."""
    path = require_file(path)
    if path.suffix.lower() in ROW_SUFFIXES:
        return True
    first = first_line(path)
    if first is not None and is_row(first[1]):
        array = first[1].lstrip().startswith("[")
        raise DataError(f"{path}:{first[0]}: this line is {'a JSON array of rows' if array else 'a JSON row'}, but a "
                        f"file named {path.name} is read as plain text",
                        hint=f"rename it {path.stem}{'.json' if array else '.jsonl'} so that its rows are read as "
                             "rows (or convert it to plain text)")
    return False


def iter_jsonl(path: str | os.PathLike, skip_bad: bool = False,
               bad: list[str] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, row) of JSONL or of one JSON array. Bad lines raise DataError, or with
    skip_bad are appended to `bad`."""
    first = first_line(path)
    if first is not None and first[1].lstrip().startswith("["):
        yield from iter_json_array(Path(path), skip_bad, bad)
        return
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


def iter_json_array(path: Path, skip_bad: bool = False,
                    bad: list[str] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line where it starts, row) of a file holding one JSON array of objects. An element that is
    not an object is a bad row (skippable); broken JSON stops, since no row after it can be found."""
    text = read_text_utf8(path)
    decoder, space = json.JSONDecoder(), re.compile(r"[ \t\n\r]*")
    line, counted = 1, 0

    def line_at(pos: int) -> int:
        nonlocal line, counted
        line, counted = line + text.count("\n", counted, pos), pos
        return line

    pos = space.match(text, text.index("[") + 1).end()
    while not text.startswith("]", pos):
        row_line = line_at(pos)
        try:
            row, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{e.lineno}: not valid JSON ({e.msg}, column {e.colno})", hint=ARRAY_HINT) from None
        if isinstance(row, dict):
            yield row_line, row
        else:
            bad_line(f"{path}:{row_line}: not a JSON object (expected a JSON object, got {type(row).__name__})",
                     skip_bad, bad)
        pos = space.match(text, end).end()
        if text.startswith(",", pos):
            pos = space.match(text, pos + 1).end()
        elif not text.startswith("]", pos):
            raise DataError(f"{path}:{line_at(pos)}: expected , or ] after the row of line {row_line}",
                            hint=ARRAY_HINT)
    if text[pos + 1:].strip():
        raise DataError(f"{path}:{line_at(space.match(text, pos + 1).end())}: more text after the JSON array",
                        hint=ARRAY_HINT)


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
