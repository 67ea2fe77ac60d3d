"""What the trainers eat: token windows for pretraining, masked conversations for SFT,
chosen/rejected pairs for DPO.

SFT labels are -100 everywhere except the assistant's replies: from the token after
`<|im_start|>assistant\\n` through its `<|im_end|>`, so the model learns to answer and to
stop, never to imitate the user.
"""

from __future__ import annotations

import json
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
from minimind_notes.data.tool_calls import check_tools
from minimind_notes.errors import MiniMindError

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
        if not isinstance(m.get("content"), str) and not (m.get("content") is None and m.get("tool_calls")):
            raise DataError(f"{where}: message {i} has no \"content\" string")  # null: only beside tool calls
    if not any(m["role"] == "assistant" for m in messages):
        raise DataError(f"{where}: no assistant message to learn from")
    return messages


def conversation(messages: Any, where: str, tools: list[dict[str, Any]] | None) -> Conversation:
    valid = Conversation(validate_messages(messages, where))
    valid.tools = tools
    return valid


def row_tools(row: dict[str, Any], where: str) -> list[dict[str, Any]] | None:
    """A row's "tools" (MiniMind's sft_t2t rows: a list of OpenAI function schemas, or JSON text of one)."""
    tools = row.get("tools")
    if tools is None or tools == []:
        return None
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except ValueError as e:
            raise DataError(f"{where}: \"tools\" is text that is not JSON ({e})") from None
    return check_tools(tools, f"{where}: \"tools\"")


def validate_prompt(row: dict[str, Any], where: str) -> tuple[str, str]:
    """A GRPO row: a "prompt" string and the "answer" (a number or string) the reward checks."""
    prompt, answer = row.get("prompt"), row.get("answer")
    if not isinstance(prompt, str) or not prompt.strip():
        raise DataError(f"{where}: expected a non-empty \"prompt\" string, got {prompt!r}")
    if isinstance(answer, bool) or not isinstance(answer, (str, int)) or not str(answer).strip():
        raise DataError(f"{where}: expected an \"answer\" (a number or string), got {answer!r}")
    return prompt, str(answer).strip()


class Conversation(list):
    """A row's messages, with the tool definitions the row gives them (its "tools"; None: none)."""

    tools: list[dict[str, Any]] | None = None


@dataclass
class RLPrompt:
    """One RL prompt: the conversation so far (ending with a user turn) and, where the row gives one, the
    final answer the rule reward checks (None: only a reward model can score the replies)."""

    messages: list[dict[str, str]]
    answer: str | None
    had_tools: bool = False  # MiniMind's agent rows define tools; no tool runs here, the final answer is scored


RL_FORMATS = ('{"prompt": ..., "answer": ...} (this project\'s rl_arithmetic.jsonl), {"conversations": [...]} '
              '(MiniMind\'s rlaif.jsonl) or {"conversations": [...], "gt": [...]} (MiniMind\'s agent_rl_math.jsonl)')


def validate_rl_prompt(row: dict[str, Any], where: str) -> RLPrompt:
    """A prompt row in any of RL_FORMATS. A MiniMind conversation's trailing assistant turn (an empty
    placeholder, or a reference reply the trainers never read) is not part of the prompt; roles missing
    from a turn alternate user/assistant, as MiniMind's RLAIFDataset assigns them."""
    if "conversations" not in row:
        prompt, answer = row.get("prompt"), row.get("answer")
        if not isinstance(prompt, str) or not prompt.strip():
            raise DataError(f"{where}: expected a non-empty \"prompt\" string, got {prompt!r}; RL rows are "
                            + RL_FORMATS)
        if answer is not None and (isinstance(answer, bool) or not isinstance(answer, (str, int, float))
                                   or not str(answer).strip()):
            raise DataError(f"{where}: expected an \"answer\" (a number or string), got {answer!r}")
        return RLPrompt([{"role": "user", "content": prompt}], None if answer is None else str(answer).strip())
    turns = row["conversations"]
    if not isinstance(turns, list) or not all(isinstance(t, dict) and isinstance(t.get("content"), str)
                                              for t in turns):
        raise DataError(f"{where}: \"conversations\" must be a list of {{\"role\", \"content\"}} turns; RL rows "
                        "are " + RL_FORMATS)
    messages = [{"role": t.get("role") or ("user" if i % 2 == 0 else "assistant"), "content": t["content"]}
                for i, t in enumerate(turns)]
    while messages and messages[-1]["role"] == "assistant":
        messages.pop()
    bad_role = next((m["role"] for m in messages if m["role"] not in ROLES), None)
    if bad_role is not None:
        raise DataError(f"{where}: a turn has role {bad_role!r}; roles are {', '.join(ROLES)}")
    messages = [m for m in messages if m["role"] != "system" or m["content"].strip()]  # empty system turns say nothing
    if not messages or messages[-1]["role"] != "user" or not messages[-1]["content"].strip():
        raise DataError(f"{where}: the conversation must end with a non-empty user turn (then an optional empty "
                        "assistant turn); RL rows are " + RL_FORMATS)
    gt = row.get("gt")
    answer = gt[0] if isinstance(gt, list) and gt else gt
    if answer is not None and (isinstance(answer, bool) or not isinstance(answer, (str, int, float))
                               or not str(answer).strip()):
        raise DataError(f"{where}: expected \"gt\" to be a final answer or a list of them, got {gt!r}")
    return RLPrompt(messages, None if answer is None else str(answer).strip(), any("tools" in t for t in turns))


def masked_ids(tokenizer: MiniMindTokenizer, messages: Sequence[dict[str, Any]], max_len: int,
               tools: Sequence[dict[str, Any]] | None = None) -> tuple[list[int], list[int]]:
    """Token ids of the chat (tool definitions in its system turn) and their labels (-100 outside the
    assistant's turns), truncated: see `MiniMindTokenizer.chat_ids` for what is learned. A `Conversation`
    from `read_rows` brings its row's tools."""
    ids, learn = tokenizer.chat_ids(messages, tools=tools if tools is not None else getattr(messages, "tools", None))
    return ids[:max_len], [i if target else IGNORE for i, target in zip(ids[:max_len], learn, strict=False)]


def row_masked_ids(tokenizer: MiniMindTokenizer, where: str, messages: Conversation,
                   max_len: int) -> SFTExample:
    """`masked_ids` of one row; what the tokenizer refuses (tools for MiniMind2's template...) names the row."""
    try:
        return SFTExample(*masked_ids(tokenizer, messages, max_len))
    except MiniMindError as e:
        raise DataError(f"{where}: {e.message}", hint=e.hint) from None


def row_value(row: dict[str, Any], key: str, where: str) -> Any:
    """The checked value of one row: its messages (SFT: a `Conversation`, with the row's tools), (chosen,
    rejected) (DPO: key "pair"), (prompt, answer) (key "prompt") or an RLPrompt (key "rl"); a DataError
    says what is wrong."""
    if key == "prompt":
        return validate_prompt(row, where)
    if key == "rl":
        return validate_rl_prompt(row, where)
    tools = row_tools(row, where)
    if key == "pair":
        return (conversation(row.get("chosen"), f"{where}: chosen", tools),
                conversation(row.get("rejected"), f"{where}: rejected", tools))
    return conversation(row.get(key), f"{where}: {key}", tools)


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
    "prompt" (prompt and answer) or "rl"
    (PPO, GRPO: RLPrompt from any of RL_FORMATS). Bad rows raise, or (skip_bad) are listed in the second list;
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
