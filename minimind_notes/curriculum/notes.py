"""The learner's own notes: `docs/learning_log.md` and `docs/knowledge_base.md`.

The log holds dated entries, newest first (`## 2026-11-29`); the knowledge base holds
numbered topics (`## 1. Normalization`) with numbered questions (`### Q1: ...`) counted
through the whole file. `check_notes` finds what breaks those rules, with line numbers.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from minimind_notes.errors import MiniMindError
from minimind_notes.fileio import atomic_path, atomic_write_text, file_lock

LOG, KB = "learning_log.md", "knowledge_base.md"
DATE_HEADING = re.compile(r"^## +(\S+)\s*$")
TOPIC_HEADING = re.compile(r"^## +(\d+)\.\s")
QUESTION_HEADING = re.compile(r"^### +Q(\d+)\b")

SECTIONS = {"en": ("What I did", "Problems and fixes", "Thoughts"), "zh": ("做了什么", "遇到的问题与解决", "思考")}

TEMPLATES = {
    "en": {
        LOG: """# Learning log

Newest entry first. One `## YYYY-MM-DD` heading per day; `minimind notes log "text"` adds to today's.

## {today}

### What I did
- Set up minimind-notes and ran `minimind path quick`.

### Problems and fixes
- (what went wrong, and what fixed it)

### Thoughts
- (what surprised me, what to try next)
""",
        KB: """# Knowledge base

Numbered topics (`## 1. ...`), questions numbered through the whole file (`### Q1: ...`).

## 1. Normalization

### Q1: Why does a deep network without normalization lose its signal?
A: (your answer, with the number you measured in `minimind run normalization exp1`)

### Q2: What does RMSNorm leave out compared with LayerNorm?
A:

## 2. Position encoding

### Q3: How does RoPE make attention depend on relative position?
A:
""",
    },
    "zh": {
        LOG: """# 学习日志

最新的在最前。每天一个 `## YYYY-MM-DD` 标题;`minimind notes log "内容"` 会追加到当天。

## {today}

### 做了什么
- 安装 minimind-notes,跑完 `minimind path quick`。

### 遇到的问题与解决
- (出了什么问题,怎么解决的)

### 思考
- (有什么意外,下一步想试什么)
""",
        KB: """# 知识库

按主题编号(`## 1. ...`),问题在全文连续编号(`### Q1: ...`)。

## 1. 归一化

### Q1: 没有归一化的深层网络,信号为什么会消失?
A:(写下你的答案,附上 `minimind run normalization exp1` 测到的数字)

### Q2: RMSNorm 比 LayerNorm 少做了什么?
A:

## 2. 位置编码

### Q3: RoPE 如何让注意力只依赖相对位置?
A:
""",
    },
}


class NotesError(MiniMindError):
    pass


@dataclass
class Problem:
    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def init_notes(folder: Path, lang: str = "en", today: date | None = None) -> list[tuple[Path, bool]]:
    """Write the two templates into folder/docs; an existing file (or link) is never touched.
    Returns (path, written) pairs."""
    docs = folder / "docs"
    try:
        docs.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise NotesError(f"cannot create the notes folder {docs} ({e.strerror or e})",
                         hint="give a folder whose docs/ can be a directory: minimind notes init FOLDER") from None
    out = []
    for name, text in TEMPLATES[lang].items():
        path = docs / name
        if path.exists() or path.is_symlink():
            out.append((path, False))
            continue
        atomic_write_text(path, text.format(today=(today or date.today()).isoformat()))
        out.append((path, True))
    return out


def read_notes(path: Path) -> str:
    """The file's text, exactly (no newline translation); non-UTF-8 bytes are one message with the line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise NotesError(f"{path}:{line}: not UTF-8 text (byte 0x{data[e.start]:02x}); nothing was changed",
                         hint="save the file as UTF-8 in your editor (or fix that line), then run the "
                              "command again") from None


def append_log(log: Path, text: str, lang: str = "en", today: date | None = None) -> str:
    """Add `text` as a bullet under today's entry (created at the top when missing).

    Every byte of the log other than the new lines stays as it was: line endings (the new lines
    follow the file's own), characters such as U+2028, a symlink (its target is written). The
    read-modify-write holds a lock (`.learning_log.md.lock` beside the log), as progress.json's does."""
    if log.exists() and not log.is_file():
        raise NotesError(f"{log} is not a file", hint="move it aside; `minimind notes init` then writes a fresh log")
    if not log.is_file():
        raise NotesError(f"no learning log at {log}", hint="create it with: minimind notes init")
    if not text.strip():
        raise NotesError("nothing to add: the text is empty", hint='minimind notes log "what I did today"')
    target = log.resolve()
    with file_lock(target.with_name(f".{target.name}.lock")):  # two `notes log` at once: both lines stay
        return _insert_bullet(target, text, lang, today)


def _insert_bullet(target: Path, text: str, lang: str, today: date | None) -> str:
    """append_log's locked part: read the log, place the bullet, write."""
    old = read_notes(target)
    nl = "\r\n" if old.partition("\n")[0].endswith("\r") else "\n"  # the file's style, from its first line
    lines = old.split("\n")  # "\n" only: str.splitlines would also split at U+2028 and friends
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    day = (today or date.today()).isoformat()
    bullet = "- " + f"{nl}  ".join(text.strip().replace("\r\n", "\n").split("\n"))
    dates = [(i, m.group(1)) for i, line in enumerate(lines) if (m := DATE_HEADING.match(line))]
    if dates and dates[0][1] == day:
        start = dates[0][0]
        end = dates[1][0] if len(dates) > 1 else len(lines)
        # after the last bullet of the entry's first section, else right under the date
        first_section = next((i for i in range(start + 1, end) if lines[i].startswith("### ")), None)
        at = start + 1
        if first_section is not None:
            at = first_section + 1
            while at < end and lines[at].startswith(("- ", "  ")):  # bullets and their continued lines
                at += 1
        new, where = [bullet], "today's entry"
    else:
        at = dates[0][0] if dates else len(lines)
        new, where = [f"## {day}", "", f"### {SECTIONS[lang][0]}", bullet, ""], "a new entry"
    pos = starts[at] if at < len(lines) else len(old)
    insert = nl.join(new) + nl
    if pos == len(old) and old and not old.endswith("\n"):
        insert = nl + insert  # the last line had no newline of its own
    if pos == len(old):
        with open(target, "ab") as f:  # the common case at the end of the file: a plain append
            f.write(insert.encode("utf-8"))
    else:
        with atomic_path(target) as tmp:  # in the target's folder, so a symlinked log stays a link
            shutil.copymode(target, tmp)
            tmp.write_bytes((old[:pos] + insert + old[pos:]).encode("utf-8"))
    return where


def check_log(path: Path) -> list[Problem]:
    problems, previous = [], None
    for no, line in enumerate(read_notes(path).split("\n"), 1):
        m = DATE_HEADING.match(line)
        if not m:
            continue
        try:
            day = date.fromisoformat(m.group(1))
        except ValueError:
            problems.append(Problem(path, no, f"{m.group(1)!r} is not a valid date (write YYYY-MM-DD)"))
            continue
        if previous and day > previous[0]:
            problems.append(Problem(path, no, f"{day} comes after {previous[0]} (line {previous[1]}): "
                                              "newest entries go first"))
        if previous and day == previous[0]:
            problems.append(Problem(path, no, f"{day} appears twice (also line {previous[1]})"))
        previous = (day, no)
    return problems


def check_knowledge_base(path: Path) -> list[Problem]:
    problems, topic, question = [], 0, 0
    for no, line in enumerate(read_notes(path).split("\n"), 1):
        if m := TOPIC_HEADING.match(line):
            n = int(m.group(1))
            if n != topic + 1:
                problems.append(Problem(path, no, f"topic {n} follows topic {topic}: expected {topic + 1}"))
            topic = n
        elif m := QUESTION_HEADING.match(line):
            n = int(m.group(1))
            if n != question + 1:
                problems.append(Problem(path, no, f"Q{n} follows Q{question}: expected Q{question + 1}"))
            question = n
    return problems


def check_notes(folder: Path) -> list[Problem]:
    docs = folder / "docs"
    missing = [name for name in (LOG, KB) if not (docs / name).is_file()]
    if missing:
        raise NotesError(f"no {' or '.join(missing)} in {docs}", hint="create them with: minimind notes init")
    return check_log(docs / LOG) + check_knowledge_base(docs / KB)
