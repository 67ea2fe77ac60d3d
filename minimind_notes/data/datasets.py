"""What the trainers eat: token windows for pretraining, masked conversations for SFT,
chosen/rejected pairs for DPO.

SFT labels are -100 everywhere except the assistant's replies: from the token after
`<|im_start|>assistant\\n` through its `<|im_end|>`, so the model learns to answer and to
stop, never to imitate the user.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from minimind_notes.data.chat import ROLES
from minimind_notes.data.jsonl import DataError, bad_line, iter_jsonl
from minimind_notes.data.tokenizer import MiniMindTokenizer

IGNORE = -100


class EpochSampler:
    """Indices 0..n-1 in a fresh seeded order each epoch. (epoch, index) is the whole state,
    so a resumed run draws exactly the batches the uninterrupted run would have drawn."""

    def __init__(self, n: int, seed: int = 0, shuffle: bool = True) -> None:
        if n < 1:
            raise DataError("nothing to sample from (empty dataset)")
        self.n, self.seed, self.shuffle = n, seed, shuffle
        self.epoch, self.index = 0, 0
        self._order = self._permutation(0)

    def _permutation(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.n)
        return np.random.default_rng(self.seed + epoch).permutation(self.n)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.index = int(state["epoch"]), int(state["index"])
        self._order = self._permutation(self.epoch)

    def take(self, k: int) -> list[int]:
        out = []
        for _ in range(k):
            if self.index >= self.n:
                self.epoch, self.index = self.epoch + 1, 0
                self._order = self._permutation(self.epoch)
            out.append(int(self._order[self.index]))
            self.index += 1
        return out


class TokenWindows:
    """Non-overlapping (T+1)-token windows of a packed token stream, shuffled per epoch."""

    def __init__(self, tokens: np.ndarray, seq_len: int, seed: int = 0) -> None:
        self.tokens, self.seq_len = tokens, seq_len
        self.n_windows = (len(tokens) - 1) // seq_len
        if self.n_windows < 1:
            raise DataError(f"only {len(tokens)} tokens: fewer than one window of {seq_len + 1}")
        self.sampler = EpochSampler(self.n_windows, seed)

    def window(self, i: int) -> np.ndarray:
        start = i * self.seq_len
        return np.asarray(self.tokens[start:start + self.seq_len + 1], dtype=np.int64)

    def batch(self, indices: Sequence[int]) -> torch.Tensor:
        """(B, T+1) int64 windows; the model shifts the labels itself."""
        return torch.from_numpy(np.stack([self.window(i) for i in indices]))

    def next_batch(self, batch_size: int) -> torch.Tensor:
        return self.batch(self.sampler.take(batch_size))

    def state_dict(self) -> dict[str, int]:
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.load_state_dict(state)

    def all_windows(self, limit: int | None = None) -> torch.Tensor:
        """The first `limit` windows in file order: a fixed evaluation set."""
        return self.batch(range(min(self.n_windows, limit or self.n_windows)))


def validate_messages(messages: Any, where: str) -> list[dict[str, str]]:
    if messages is None:
        raise DataError(f"{where}: missing (expected a list of {{\"role\", \"content\"}} messages)")
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{where}: expected a non-empty list of messages, got {type(messages).__name__}")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            role = m.get("role") if isinstance(m, dict) else m
            raise DataError(f"{where}: message {i} has role {role!r}; roles are {', '.join(ROLES)}")
        if not isinstance(m.get("content"), str):
            raise DataError(f"{where}: message {i} has no \"content\" string")
    if not any(m["role"] == "assistant" for m in messages):
        raise DataError(f"{where}: no assistant message to learn from")
    return messages


def validate_prompt(row: dict[str, Any], where: str) -> tuple[str, str]:
    """A GRPO row: a "prompt" string and the "answer" (a number or string) the reward checks."""
    prompt, answer = row.get("prompt"), row.get("answer")
    if not isinstance(prompt, str) or not prompt.strip():
        raise DataError(f"{where}: expected a non-empty \"prompt\" string, got {prompt!r}")
    if isinstance(answer, bool) or not isinstance(answer, (str, int)) or not str(answer).strip():
        raise DataError(f"{where}: expected an \"answer\" (a number or string), got {answer!r}")
    return prompt, str(answer).strip()


def masked_ids(tokenizer: MiniMindTokenizer, messages: Sequence[dict[str, Any]],
               max_len: int) -> tuple[list[int], list[int]]:
    """Token ids of the chat and their labels (-100 outside the assistant's turns), truncated: see
    `MiniMindTokenizer.chat_ids` for what is learned."""
    ids, learn = tokenizer.chat_ids(messages)
    return ids[:max_len], [i if target else IGNORE for i, target in zip(ids[:max_len], learn, strict=False)]


def row_value(row: dict[str, Any], key: str, where: str) -> Any:
    """The checked value of one row: its messages (SFT), (chosen, rejected) (DPO: key "pair") or
    (prompt, answer) (GRPO: key "prompt"); a DataError says what is wrong."""
    if key != "prompt" and row.get("tools") is not None:  # refused, never dropped without a word
        raise DataError(f"{where}: a row-level \"tools\" list is not read by this trainer yet; tool calls "
                        "and results inside the messages are")
    if key == "pair":
        return (validate_messages(row.get("chosen"), f"{where}: chosen"),
                validate_messages(row.get("rejected"), f"{where}: rejected"))
    if key == "prompt":
        return validate_prompt(row, where)
    return validate_messages(row.get(key), f"{where}: {key}")


def iter_rows(path: str | os.PathLike, key: str, skip_bad: bool | None = None,
              bad: list[str] | None = None) -> Iterator[tuple[int, Any]]:
    """(line, value) of every valid row, one at a time (see `row_value`); bad rows raise, or (skip_bad)
    are appended to `bad`."""
    for lineno, row in iter_jsonl(Path(path), skip_bad, bad):
        try:
            value = row_value(row, key, f"{path}:{lineno}")
        except DataError as e:
            bad_line(e.message, skip_bad, bad)
            continue
        yield lineno, value


def read_rows(path: str | os.PathLike, key: str,
              skip_bad: bool | None = None) -> tuple[list[tuple[int, Any]], list[str]]:
    """(line, value) for every valid row: key "conversations" (SFT), "pair" (DPO: chosen and rejected)
    or "prompt" (GRPO: prompt and answer). Bad rows raise, or (skip_bad) are listed in the second list;
    skip_bad=None (a file --skip-bad does not apply to) raises without suggesting it."""
    bad: list[str] | None = [] if skip_bad is not None else None
    rows = list(iter_rows(path, key, skip_bad, bad))
    if not rows:
        raise DataError(f"{path}: no valid rows (empty dataset)" + (f"; {len(bad)} bad lines" if bad else ""))
    return rows, bad or []


@dataclass
class SFTExample:
    ids: list[int]
    labels: list[int]


def require_targets(path: str | os.PathLike, before: int, after: int, max_seq_len: int) -> int:
    """How many rows lost every target to truncation; an error when none is left."""
    if before and not after:
        raise DataError(f"{path}: no row keeps an assistant token within max_seq_len {max_seq_len}",
                        hint="raise --max_seq_len or shorten the system and user turns")
    return before - after


def pad_batch(examples: Sequence[SFTExample], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad to the longest row: pads get id pad_id and label -100."""
    width = max(len(e.ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    for row, e in enumerate(examples):
        ids[row, :len(e.ids)] = torch.tensor(e.ids)
        labels[row, :len(e.labels)] = torch.tensor(e.labels)
    return ids, labels
