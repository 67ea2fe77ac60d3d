"""Evaluation, for trainers, experiments and the CLI alike: held-out loss, perplexity and bits per
byte; multiple-choice accuracy by option likelihood (C-Eval / MMLU rows: question, A-D, answer);
DPO's preference accuracy; the arithmetic reward and the accuracy of sampled or greedy replies."""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from minimind_notes.data.chat_cache import DPODataset
from minimind_notes.data.datasets import IGNORE
from minimind_notes.data.jsonl import DataError, iter_jsonl, read_text_utf8, require_file
from minimind_notes.data.tokenizer import MiniMindTokenizer

LETTERS = ("A", "B", "C", "D")


def perplexity(model: nn.Module, tok: MiniMindTokenizer, path: str | os.PathLike, seq_len: int = 256,
               max_windows: int = 200, batch_size: int = 8, skip_bad: bool | None = None) -> dict[str, float]:
    """Loss, perplexity and bits per byte over the first windows of a pretraining-format file
    (broken lines stop it, or with skip_bad are skipped and counted: see `prepare`)."""
    import tempfile

    from minimind_notes.data.datasets import TokenWindows
    from minimind_notes.data.pretokenize import prepare

    with tempfile.TemporaryDirectory() as tmp:
        packed = prepare(path, tok, out_dir=Path(tmp), skip_bad=skip_bad)
        tokens = packed.tokens
        windows = TokenWindows(tokens, min(seq_len, len(tokens) - 1)).all_windows(max_windows)
    device = next(model.parameters()).device
    return {**lm_metrics(model, windows, windows, tok, batch_size, device), "tokens": int(windows.numel()),
            "skipped_lines": packed.meta["skipped_lines"]}


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
    if path.suffix.lower() == ".csv":
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


@torch.no_grad()
def lm_metrics(model: nn.Module, ids: torch.Tensor, labels: torch.Tensor, tok: MiniMindTokenizer,
               batch_size: int, device: torch.device) -> dict[str, float]:
    """Summed next-token NLL over label tokens -> mean loss, perplexity, bits per byte."""
    was_training = model.training
    model.eval()
    nll, n_tokens, n_bytes = 0.0, 0, 0
    token_bytes = torch.tensor(tok.token_bytes)
    for i in range(0, len(ids), batch_size):
        x, y = ids[i:i + batch_size].to(device), labels[i:i + batch_size].to(device)
        logits = model(x).logits[:, :-1].float()
        target = y[:, 1:]
        mask = target != IGNORE
        nll += float(F.cross_entropy(logits[mask], target[mask], reduction="sum"))
        n_tokens += int(mask.sum())
        n_bytes += int(token_bytes[target[mask].cpu()].sum())
    model.train(was_training)
    loss = nll / max(n_tokens, 1)
    return {"val_loss": loss, "val_ppl": math.exp(min(loss, 50)),
            "val_bpb": nll / math.log(2) / max(n_bytes, 1)}


def sequence_logps(model: nn.Module, ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean log-probability of each row's label tokens (the assistant reply): (B,)."""
    logits = model(ids).logits[:, :-1].float()
    target = labels[:, 1:]
    mask = target != IGNORE
    logp = torch.gather(logits.log_softmax(-1), 2, target.clamp(min=0)[..., None]).squeeze(-1)
    return (logp * mask).sum(-1) / mask.sum(-1).clamp(min=1)


@torch.no_grad()
def pair_logps(model: nn.Module, data: DPODataset, batch_size: int = 32) -> torch.Tensor:
    """Mean log-prob per reply token of every pair's chosen and rejected reply: (N, 2)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(data), batch_size):
        idx = list(range(start, min(len(data), start + batch_size)))
        ids, labels = (t.to(device) for t in data.batch(idx))  # (2b, T): the chosen rows, then the rejected
        lp = sequence_logps(model, ids, labels)
        out.append(torch.stack([lp[:len(idx)], lp[len(idx):]], dim=1))
    model.train(was_training)
    return torch.cat(out)


def reward_accuracy(margin: torch.Tensor) -> float:
    """Share of pairs whose implicit reward ranks chosen above rejected; an exact tie (policy ==
    reference) counts half, as a coin flip would."""
    return float(((margin > 0).float() + 0.5 * (margin == 0).float()).mean())


def reward(reply: str, answer: str) -> float:
    """1 if the last number in the reply is the answer, else 0: replies state the result last
    ("3 plus 3 is 6.", "9 × 5 = 45.", "The answer is 4.")."""
    numbers = re.findall(r"-?\d+", reply)
    return float(bool(numbers) and numbers[-1] == answer)


@dataclass
class Reply:
    prompt_ids: list[int]
    tokens: list[int]  # the completion, through <|im_end|> when it stopped
    text: str
    stopped: bool  # ended with <|im_end|> within the token budget


@torch.no_grad()
def sample_replies(model: nn.Module, tok: MiniMindTokenizer, prompts: list[str], temperature: float = 1.0,
                   max_new_tokens: int = 16, generator: torch.Generator | None = None,
                   batch_size: int = 64) -> list[Reply]:
    """One reply per chat prompt (repeat a prompt to draw several); temperature 0 = greedy. Prompts run
    in left-padded batches: the same tokens as one at a time (tests/test_alignment_lab.py)."""
    from minimind_notes.model.generation import SamplingConfig, generate, left_pad

    device = next(model.parameters()).device
    cfg = SamplingConfig(max_new_tokens=max_new_tokens, temperature=temperature, top_p=1.0,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    was_training = model.training
    model.eval()
    replies = []
    for start in range(0, len(prompts), batch_size):
        x, mask = left_pad([tok.user_prompt_ids(p) for p in prompts[start:start + batch_size]], tok.pad_token_id)
        out = generate(model, x.to(device), attention_mask=mask.to(device), cfg=cfg, generator=generator)
        for row, keep, new in zip(x, mask, out[:, x.shape[1]:].tolist(), strict=True):
            stopped = tok.eos_token_id in new
            tokens = new[:new.index(tok.eos_token_id) + 1] if stopped else new
            replies.append(Reply(row[keep.bool()].tolist(), tokens, tok.decode(tokens, skip_special_tokens=True),
                                 stopped))
    model.train(was_training)
    return replies


@dataclass
class Accuracy:
    share: float  # of the replies, those the reward counts as right
    replies: list[Reply]  # `samples` per row, in the rows' order
    rewards: list[float]  # of each reply


def arithmetic_accuracy(model: nn.Module, tok: MiniMindTokenizer, rows: list[tuple[str, str]],
                        max_new_tokens: int = 16, temperature: float = 0.0, samples: int = 1, seed: int = 0,
                        batch_size: int = 64) -> Accuracy:
    """How often replies to (prompt, answer) rows state the answer: the greedy reply (temperature 0), or
    `samples` replies per prompt drawn at `temperature` from a generator seeded with `seed`."""
    device = next(model.parameters()).device
    prompts = [p for p, _ in rows for _ in range(samples)]
    answers = [a for _, a in rows for _ in range(samples)]
    generator = torch.Generator(device=device).manual_seed(seed) if temperature > 0 else None
    replies = sample_replies(model, tok, prompts, temperature, max_new_tokens, generator, batch_size)
    rewards = [reward(r.text, a) for r, a in zip(replies, answers, strict=True)]
    return Accuracy(sum(rewards) / max(len(rewards), 1), replies, rewards)
