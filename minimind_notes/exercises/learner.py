"""Loading a learner's file and calling its functions, turning whatever goes wrong into one message with
the line where Python saw it: a syntax error, an import that fails, a missing function, a wrong signature,
a crash, an unfinished `NotImplementedError`."""

from __future__ import annotations

import inspect
import traceback
import types
from dataclasses import dataclass
from typing import Any


@dataclass
class Problem(Exception):
    """What is wrong with the learner's file: `kind` (syntax, import, missing, signature, not_implemented,
    crash, type, values, gradient, plug, timeout), a message and the line in their file (if known)."""

    kind: str
    message: str
    line: int | None = None
    error: str | None = None  # the exception's type name, for a crash

    def __str__(self) -> str:
        return self.message


def learner_line(error: BaseException, filename: str) -> int | None:
    """The line of the learner's file nearest the error (the innermost frame in that file)."""
    if isinstance(error, SyntaxError) and error.filename == filename:
        return error.lineno
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == filename]
    return frames[-1].lineno if frames else None


def describe(error: BaseException) -> str:
    first = next(iter(str(error).strip().splitlines()), "")
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def load_source(source: str, filename: str, name: str = "learner") -> dict[str, Any]:
    """Run the learner's file as a module; its namespace, or a Problem (syntax or import-time error)."""
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as e:
        raise Problem("syntax", f"syntax error at line {e.lineno}: {e.msg}", e.lineno) from None
    module = types.ModuleType(name)
    module.__file__ = filename
    try:
        exec(code, module.__dict__)
    except ImportError as e:
        line = learner_line(e, filename)
        raise Problem("import", f"import failed at line {line}: {describe(e)}", line) from None
    except (Exception, SystemExit) as e:  # SystemExit: a sys.exit() or exit() left in the file
        line = learner_line(e, filename)
        raise Problem("crash", f"the file crashed while loading, at line {line}: {describe(e)}", line) from None
    return module.__dict__


def parameters(fn: Any) -> list[str]:
    return list(inspect.signature(fn).parameters)


def check_signatures(namespace: dict[str, Any], reference: dict[str, Any], functions: list[str]) -> None:
    """Every function is there, callable, with the reference's parameter names in order."""
    for name in functions:
        fn = namespace.get(name)
        if fn is None:
            raise Problem("missing", f"no function {name}() in the file (keep the skeleton's name)")
        if not callable(fn):
            raise Problem("signature", f"{name} is {type(fn).__name__}, not a function")
        want = parameters(reference[name])
        try:
            have = parameters(fn)
        except (TypeError, ValueError):
            have = []
        if have != want:
            line = getattr(getattr(fn, "__code__", None), "co_firstlineno", None)
            raise Problem("signature", f"{name}({', '.join(have)}) at line {line} has the wrong signature: "
                                       f"expected {name}({', '.join(want)})", line)


def call(namespace: dict[str, Any], function: str, args: tuple[Any, ...], filename: str) -> Any:
    """The learner's function on `args`; a crash becomes a Problem naming the line."""
    try:
        return namespace[function](*args)
    except NotImplementedError as e:
        line = learner_line(e, filename)
        raise Problem("not_implemented", f"{function}() is not implemented yet (line {line}): replace the "
                                         "`raise NotImplementedError` with your code", line) from None
    except RecursionError as e:
        line = learner_line(e, filename)
        raise Problem("crash", f"{function}() recursed without end (line {line})", line) from None
    except (Exception, SystemExit) as e:
        line = learner_line(e, filename)
        raise Problem("crash", f"{function}() crashed at line {line}: {describe(e)}", line,
                      type(e).__name__) from None
