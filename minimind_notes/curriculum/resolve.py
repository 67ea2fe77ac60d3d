"""Find a module or experiment from what the learner typed: id, alias, number or prefix.

`normalization exp1`, `norm 1`, `01 gradient` all name the same experiment. An unknown
name fails with exit code 2 and the closest matches.
"""

from __future__ import annotations

import difflib

from minimind_notes.curriculum.schema import Curriculum, Experiment, Module
from minimind_notes.errors import UsageError


def _suggest(name: str, kind: str, choices: list[str]) -> UsageError:
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.4)
    hint = f"did you mean {' or '.join(close)}?" if close else f"choose one of: {', '.join(choices)}"
    return UsageError(f"unknown {kind} {name!r}", hint=hint)


def find_module(curriculum: Curriculum, name: str) -> Module:
    key = name.strip().lower()
    for m in curriculum.modules:
        if key == m.id or key in (a.lower() for a in m.aliases):
            return m
    if key.isdigit() and 1 <= int(key) <= len(curriculum.modules):
        return curriculum.modules[int(key) - 1]
    prefixed = [m for m in curriculum.modules if m.id.startswith(key)]
    if len(prefixed) == 1:
        return prefixed[0]
    names = [m.id for m in curriculum.modules] + [a for m in curriculum.modules for a in m.aliases]
    raise _suggest(name, "module", names)


def find_experiment(module: Module, name: str) -> Experiment:
    key = name.strip().lower()
    if key.isdigit():
        key = f"exp{int(key)}"
    for e in module.experiments:
        if key == e.id:
            return e
    stem_words = {e.id: e.file.rsplit("/", 1)[-1].removesuffix(".py").split("_") for e in module.experiments}
    matches = [e for e in module.experiments
               if any(w.startswith(key) for w in stem_words[e.id][1:]) or e.id.startswith(key)]
    if len(matches) == 1:
        return matches[0]
    choices = [e.id for e in module.experiments] + [
        "_".join(stem_words[e.id][1:]) for e in module.experiments]
    raise _suggest(name, f"experiment of module {module.id}", choices)
