"""A module's step-by-step build (`steps.yaml` beside its teaching text), typed, validated and run.

Format (every text is `{en: ..., zh: ...}`):

    steps:
      - title: {en: ..., zh: ...}
        text: {en: ..., zh: ...}      # markdown shown before the code: what the step does, a prediction to make
        after: {en: ..., zh: ...}     # optional, shown after the output: the prediction reconciled with it
        code: |                       # self-contained Python that prints small tensors
          import torch
          ...
        real: minimind_notes/model/attention.py:explicit_attention   # optional: the real code it reaches

`minimind learn MODULE --step N` shows step N and runs its code in a fresh namespace, in this process.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minimind_notes.curriculum.schema import Curriculum, Module, Text, _Reader, read_yaml
from minimind_notes.errors import MiniMindError, UsageError
from minimind_notes.i18n import LANGS

STEPS_FILE = "steps.yaml"
HINT = "fix that key in the module's steps.yaml (see the other steps for the format)"


@dataclass
class BuildStep:
    title: Text
    text: Text
    code: str
    after: Text | None = None
    real: str | None = None  # "minimind_notes/model/norm.py:RMSNorm.forward": a file and a (dotted) name in it

    @property
    def real_file(self) -> str | None:
        return self.real.partition(":")[0] if self.real else None

    @property
    def real_attribute(self) -> str | None:
        return self.real.partition(":")[2] if self.real else None


def _bilingual(r: _Reader, name: str) -> Text:
    text = r.text(name)
    missing = [lang for lang in LANGS if lang not in text]
    if missing:
        r.fail(r.key(name), f"missing the {', '.join(missing)} text (every step is bilingual)")
    return text


def _step(data: Any, where: str, source: str) -> BuildStep:
    r = _Reader(data, where, source, HINT)
    step = BuildStep(title=_bilingual(r, "title"), text=_bilingual(r, "text"), code=r.get("code", str),
                     after=_bilingual(r, "after") if "after" in r.data else None, real=r.get("real", str, None))
    try:
        compile(step.code, f"{source}:{where}.code", "exec")
    except SyntaxError as e:
        r.fail(r.key("code"), f"not valid Python at line {e.lineno}: {e.msg}")
    if step.real is not None:
        path, _, attribute = step.real.partition(":")
        if not (path.endswith(".py") and all(part.isidentifier() for part in attribute.split("."))):
            r.fail(r.key("real"), f"expected path/to/file.py:name (or Class.method), got {step.real!r}")
    return step


def parse_steps(data: Any, source: str) -> list[BuildStep]:
    r = _Reader(data, "", source, HINT)
    items = r.items("steps")
    if not items:
        r.fail("steps", "expected at least one step")
    return [_step(s, f"steps[{i}]", source) for i, s in enumerate(items)]


def steps_path(curriculum: Curriculum, module: Module) -> Path:
    return module.path(curriculum.root) / STEPS_FILE


def load_steps(curriculum: Curriculum, module: Module) -> list[BuildStep]:
    """The module's steps; a module without steps.yaml is a usage error that says so."""
    path = steps_path(curriculum, module)
    if not path.is_file():
        raise UsageError(f"module {module.id} has no step-by-step build yet",
                         hint=f"read it with `minimind learn {module.id}`")
    return parse_steps(read_yaml(path), f"{module.folder}/{STEPS_FILE}")


def pick_step(steps: list[BuildStep], number: int, module: Module) -> BuildStep:
    """Step `number` (1-based), or a usage error naming the valid range."""
    if not 1 <= number <= len(steps):
        raise UsageError(f"module {module.id} has steps 1 to {len(steps)}, not {number}",
                         hint=f"list them with `minimind learn {module.id} --steps`")
    return steps[number - 1]


def run_step_code(step: BuildStep, label: str) -> dict[str, Any]:
    """Execute the step's code in a fresh namespace; returns that namespace (the tests read it).

    A snippet that raises becomes one MiniMindError naming the step and the snippet's line."""
    namespace: dict[str, Any] = {"__name__": "__minimind_step__"}
    filename = f"<{label}>"
    try:
        exec(compile(step.code, filename, "exec"), namespace)
    except Exception as e:
        lines = [f.lineno for f in traceback.extract_tb(e.__traceback__) if f.filename == filename]
        where = f" at line {lines[-1]}" if lines else ""
        raise MiniMindError(f"{label} failed{where}: {type(e).__name__}: {e}",
                            hint="the snippet is shown above; if you edited steps.yaml, fix it there") from e
    return namespace

