"""`minimind exercise check` grades the learner's file in a child process with a time limit, so an infinite
loop, a crash of the interpreter or a stray print cannot take the command down with it.

The child (`python -m minimind_notes.exercises.runner NAME FILE LANG SECONDS`) names each test on stderr as
it starts, arms faulthandler to dump the stack and exit when the time is up, and prints the report as JSON
on its last stdout line. The parent turns whatever happened into a Report."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from minimind_notes.exercises.report import Report

TEST_MARK = "@test "
STARTUP_SECONDS = 60  # the child's imports (torch) before its own clock starts: generous on a busy machine


def check_file(name: str, path: Path, lang: str = "en", time_limit: float = 60.0) -> Report:
    """Grade `path` for exercise `name` in a child process; never raises for what the learner's file does."""
    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "minimind_notes.exercises.runner", name, str(path), lang, str(time_limit)]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=time_limit + STARTUP_SECONDS)
    except subprocess.TimeoutExpired as e:
        stderr = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return _timeout(name, path, stderr, time_limit)
    last = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
    if proc.returncode == 0 and last:
        return Report(**json.loads(last[0]))
    if "Timeout (" in proc.stderr:
        return _timeout(name, path, proc.stderr, time_limit)
    tail = next((line for line in reversed(proc.stderr.strip().splitlines()) if line.strip()), "no output")
    return Report(name, passed=False, failed_test=_last_test(proc.stderr), kind="crash",
                  message=f"the grading process died (exit code {proc.returncode}): {tail}")


def _last_test(stderr: str) -> str | None:
    tests = [line[len(TEST_MARK):] for line in stderr.splitlines() if line.startswith(TEST_MARK)]
    return tests[-1] if tests else None


def _timeout(name: str, path: Path, stderr: str, time_limit: float) -> Report:
    """Where the learner's code was when time ran out: the innermost frame in their file (faulthandler lists
    the most recent call first)."""
    frames = re.findall(rf'File "{re.escape(str(path))}", line (\d+) in (\w+)', stderr)
    line, where = (int(frames[0][0]), f" in {frames[0][1]}() at line {frames[0][0]}") if frames else (None, "")
    return Report(name, passed=False, failed_test=_last_test(stderr), kind="timeout", line=line,
                  message=f"still running after {time_limit:g} s{where}: an infinite loop, or far too slow")


def main(argv: list[str]) -> None:
    import contextlib
    import faulthandler

    from minimind_notes.exercises.grader import grade_source
    from minimind_notes.exercises.registry import exercise

    name, filename, lang, seconds = argv
    ex = exercise(name)
    try:
        source = Path(filename).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        report = Report(name, passed=False, failed_test="loading the file", kind="syntax",
                        message=f"cannot read {filename}: {e}")
    else:
        faulthandler.dump_traceback_later(float(seconds), exit=True)
        with contextlib.redirect_stdout(sys.stderr):  # the learner's prints must not mix with the report
            report = grade_source(ex, source, filename, lang,
                                  on_test=lambda test: print(TEST_MARK + test, file=sys.stderr, flush=True))
        faulthandler.cancel_dump_traceback_later()
    print(json.dumps(report.to_dict(), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
