"""The exercises, in the order a learner meets them, and how a name on the command line finds one."""

from __future__ import annotations

import importlib
from functools import cache

from minimind_notes.errors import UsageError
from minimind_notes.exercises.spec import Exercise

NAMES = ("rmsnorm", "rope", "causal_attention", "gqa", "swiglu", "block", "model_forward", "kv_cache",
         "bpe_merges", "sft_mask", "lora", "dpo_loss", "grpo_advantages", "top_p", "int8_quant")


@cache
def exercise(name: str) -> Exercise:
    return importlib.import_module(f"minimind_notes.exercises.catalog.{name}").EXERCISE


def all_exercises() -> list[Exercise]:
    return [exercise(name) for name in NAMES]


def find_name(name: str) -> str:
    """An exercise's name from what the learner typed (a unique prefix, or - for _, works too), without
    importing it (and torch): `check` leaves that to its child process."""
    key = name.strip().lower().replace("-", "_")
    matches = ([n for n in NAMES if n == key] or [n for n in NAMES if n.startswith(key)]) if key else []
    if len(matches) != 1:
        why = "is ambiguous" if matches else "is not an exercise"
        raise UsageError(f"{name!r} {why}", hint=f"choose one of: {', '.join(NAMES)} (see `minimind exercise list`)")
    return matches[0]


def find_exercise(name: str) -> Exercise:
    return exercise(find_name(name))


def module_exercises(module_id: str) -> list[Exercise]:
    return [e for e in all_exercises() if e.module == module_id]
