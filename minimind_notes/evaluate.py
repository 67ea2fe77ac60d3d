"""Evaluation: held-out perplexity and bits per byte, and multiple-choice accuracy by
option likelihood (C-Eval / MMLU rows: question, A-D, answer)."""

from __future__ import annotations

import csv
import io
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from minimind_notes.data.jsonl import DataError, iter_jsonl, read_text_utf8, require_file
from minimind_notes.data.tokenizer import MiniMindTokenizer

LETTERS = ("A", "B", "C", "D")


def perplexity(model: nn.Module, tok: MiniMindTokenizer, path: str | os.PathLike, seq_len: int = 256,
               max_windows: int = 200, batch_size: int = 8) -> dict[str, float]:
    """Loss, perplexity and bits per byte over the first windows of a pretraining-format file."""
    import tempfile

    from minimind_notes.data.datasets import TokenWindows
    from minimind_notes.data.pretokenize import prepare
    from minimind_notes.train.objectives import lm_metrics

    with tempfile.TemporaryDirectory() as tmp:
        tokens = prepare(path, tok, out_dir=Path(tmp)).tokens
        windows = TokenWindows(tokens, min(seq_len, len(tokens) - 1)).all_windows(max_windows)
    device = next(model.parameters()).device
    return {**lm_metrics(model, windows, windows, tok, batch_size, device), "tokens": int(windows.numel())}


@dataclass
class MCQuestion:
    question: str
    options: dict[str, str]
    answer: str
    subject: str = "all"
    where: str = ""


def read_mc(path: str | os.PathLike) -> list[MCQuestion]:
    """JSONL or CSV rows with question, A, B, C, D, answer (and optionally subject)."""
    path = require_file(path)
    if path.suffix == ".csv":
        reader = csv.DictReader(io.StringIO(read_text_utf8(path), newline=""))
        try:
            rows = [(reader.line_num, r) for r in reader]  # line_num: where the row ends (fields may span lines)
        except csv.Error as e:
            raise DataError(f"{path}:{reader.line_num}: not valid CSV ({e})") from e
        subject = path.stem.removesuffix("_val").removesuffix("_dev").removesuffix("_test")
    else:
        rows, subject = list(iter_jsonl(path)), "all"
    out = []
    for line, row in rows:
        where = f"{path}:{line}"
        missing = [k for k in ("question", *LETTERS, "answer") if not str(row.get(k) or "").strip()]
        if missing:
            raise DataError(f"{where}: missing {', '.join(missing)}",
                            hint="rows need question, A, B, C, D and answer (a letter)")
        answer = str(row["answer"]).strip().upper()
        if answer not in LETTERS:
            raise DataError(f"{where}: answer {row['answer']!r} is not one of A, B, C, D")
        out.append(MCQuestion(str(row["question"]), {k: str(row[k]) for k in LETTERS}, answer,
                              str(row.get("subject") or subject), where))
    if not out:
        raise DataError(f"{path}: no questions (empty dataset)")
    return out


@dataclass
class MCResult:
    accuracy: float
    by_subject: dict[str, tuple[int, int]]  # subject -> (correct, total)
    wrong: list[tuple[MCQuestion, str]] = field(default_factory=list)  # (question, predicted letter)


@torch.no_grad()
def option_scores(model: nn.Module, tok: MiniMindTokenizer, q: MCQuestion, chat: bool) -> dict[str, float]:
    """Mean log-probability per token of each option's text given the question."""
    if chat:
        prompt = tok.apply_chat_template([{"role": "user", "content": q.question}], add_generation_prompt=True,
                                         tokenize=True)
    else:
        prompt = [tok.bos_token_id, *tok.encode_plain(q.question + " ")]
    device = next(model.parameters()).device
    window = model.config.max_position_embeddings
    scores = {}
    for letter, text in q.options.items():
        option = tok.encode_plain(text)
        if len(prompt) + len(option) > window:
            raise DataError(f"{q.where}: the question and option {letter} take {len(prompt) + len(option)} tokens, "
                            f"more than the model's window of {window}", hint="shorten that row or leave it out")
        ids = torch.tensor([prompt + option], device=device)
        logp = F.log_softmax(model(ids).logits[0, len(prompt) - 1:-1].float(), dim=-1)
        scores[letter] = float(logp.gather(1, ids[0, len(prompt):, None]).mean())
    return scores


def multiple_choice(model: nn.Module, tok: MiniMindTokenizer, questions: list[MCQuestion],
                    chat: bool = True) -> MCResult:
    model.eval()
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong = []
    for q in questions:
        scores = option_scores(model, tok, q, chat)
        predicted = max(scores, key=scores.get)
        tally[q.subject][1] += 1
        if predicted == q.answer:
            tally[q.subject][0] += 1
        else:
            wrong.append((q, predicted))
    correct = sum(c for c, _ in tally.values())
    return MCResult(correct / len(questions), {s: (c, n) for s, (c, n) in sorted(tally.items())}, wrong)
