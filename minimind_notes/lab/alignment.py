"""Pieces the alignment experiments share: a small addition world written in the embedded data's own
phrasing, tokenizers sized for the lab, the accuracy at the lab's settings, the exact KL of a policy from
its reference, and per-pair DPO log-probabilities by kind of pair.

GRPO draws many replies per step. With the shipped 6,400-token vocabulary the output layer dominates
every step of a lab model, so these experiments train a small BPE with the project's own
`train_tokenizer` on the lab's text: the same MiniMind model, Trainer and objectives, at a cost a CPU
pays in seconds.
"""

from __future__ import annotations

import difflib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from minimind_notes.data import phrasing
from minimind_notes.data.chat import apply_chat_template
from minimind_notes.data.jsonl import write_jsonl
from minimind_notes.data.tokenizer import MiniMindTokenizer, train_tokenizer
from minimind_notes.evaluate import Accuracy, Reply, arithmetic_accuracy

Row = tuple[str, str]  # (prompt, answer)
RESULT_ONLY = 2  # phrasing.reply's style 2, 'The answer is 12.'; styles 0 and 1 restate the sum first


def conversation(question: str, answer: str) -> dict:
    return {"conversations": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}


def chat_texts(rows: list[dict]) -> list[str]:
    """Each conversation (or each side of a preference pair) rendered with the chat template."""
    texts = []
    for r in rows:
        texts += [apply_chat_template(r[k]) for k in ("conversations", "chosen", "rejected") if k in r]
    return texts


def small_tokenizer(texts: list[str], out_dir: Path, vocab_size: int) -> MiniMindTokenizer:
    """MiniMind's byte-level BPE (with the chat special tokens) trained on `texts`."""
    return train_tokenizer(texts, out_dir, vocab_size)


# -- the addition world ------------------------------------------------------------------------
def addition_sums(top: int) -> list[phrasing.Sum]:
    """Every a + b with a and b in 0..top-1."""
    return [phrasing.Sum(a, "+", b) for a in range(top) for b in range(top)]


def prompt_rows(sums: list[phrasing.Sum]) -> list[Row]:
    return [(q, str(s.value)) for s in sums for q in phrasing.questions(s, zh=False)]


def split_sums(sums: list[phrasing.Sum], seed: int) -> tuple[list[phrasing.Sum], list[phrasing.Sum]]:
    """(RL sums, held-out sums): half each; no phrasing of a held-out sum is ever trained on by RL."""
    order = list(sums)
    random.Random(seed).shuffle(order)
    half = len(order) // 2
    return order[half:], order[:half]


def sft_rows(sums: list[phrasing.Sum], n: int, rng: random.Random, sloppy: float,
             result_share: float = 0.5) -> list[dict]:
    """n question/answer conversations in the reply styles of `phrasing.reply`: result-only
    ('The answer is 7.') with probability `result_share`, else one of the two that restate the sum
    ('3 + 4 = 7.', '3 plus 4 is 7.').

    A share `sloppy` of the result-only replies state a near miss instead of the sum, as if one
    annotator had been careless; the replies that restate the sum are always right.
    """
    rows = []
    for _ in range(n):
        s = rng.choice(sums)
        style = RESULT_ONLY if rng.random() < result_share else rng.randrange(2)
        wrong = style == RESULT_ONLY and rng.random() < sloppy
        value = rng.choice(phrasing.near_misses(s.value, rng)) if wrong else None
        rows.append(conversation(phrasing.question(s, False, rng), phrasing.reply(s, False, style, value)))
    return rows


@dataclass
class AdditionLab:
    """An SFT base for the addition world, and the files a GRPO run on it needs."""

    out_dir: Path
    tokenizer_dir: Path
    rl_path: Path  # {"prompt", "answer"} rows of the RL sums, what GRPOObjective reads
    rl_rows: list[Row]
    held_rows: list[Row]  # every phrasing of the held-out sums
    held_sums: list[phrasing.Sum]
    base: Any  # stage_lab.StageRun of the SFT base
    precision: str  # what the base trained in; GRPO on it trains in the same


# The lab model: hidden 64, 2 layers; the replies take at most ~8 tokens of the small vocabulary.
LAB_MODEL = dict(hidden_size=64, num_hidden_layers=2, max_seq_len=64)
GRPO_LAB = dict(batch_size=4, num_generations=8, grpo_max_new_tokens=12, rollout_temperature=1.0, warmup_steps=0)


def addition_lab(out_dir: Path, seed: int, sft_steps: int, precision: str, top: int = 6, sloppy: float = 0.8,
                 rows: int = 1500) -> AdditionLab:
    """Write the SFT conversations, the RL prompts and a tokenizer, then train the SFT base from
    scratch with the real trainer (checkpoint full_sft_64.safetensors in out_dir)."""
    from minimind_notes.lab.stage import run_stage

    rng = random.Random(seed)
    sums = addition_sums(top)
    rl_sums, held_sums = split_sums(sums, seed)
    convs = sft_rows(sums, rows, rng, sloppy)
    sft_path = write_jsonl(out_dir / "addition_sft.jsonl", convs)
    rl_rows = prompt_rows(rl_sums)
    rl_path = write_jsonl(out_dir / "addition_rl.jsonl", [{"prompt": p, "answer": a} for p, a in rl_rows])
    tok_dir = out_dir / "tokenizer"
    # 512 asks for more merges than this text has: the BPE stops when every pair is merged, so
    # words and numbers are single tokens and a reply is ~7 tokens.
    small_tokenizer(chat_texts(convs), tok_dir, 512)
    base = run_stage("sft", out_dir, data_path=str(sft_path), val_path="", from_weight="none",
                     tokenizer=str(tok_dir), batch_size=16, max_steps=sft_steps, learning_rate=1e-2,
                     warmup_steps=5, seed=seed, precision=precision, **LAB_MODEL)
    return AdditionLab(out_dir, tok_dir, rl_path, rl_rows, prompt_rows(held_sums), held_sums, base, precision)


def grpo_trainer(lab: AdditionLab, steps: int, learning_rate: float, beta: float, seed: int) -> Any:
    """A Trainer for GRPO from the lab's SFT base (the objective's reference is that base)."""
    from minimind_notes.lab.stage import lab_config
    from minimind_notes.train.loop import Trainer

    cfg = lab_config("grpo", lab.out_dir, data_path=str(lab.rl_path), val_path=None, from_weight="full_sft",
                     tokenizer=str(lab.tokenizer_dir), max_steps=steps, learning_rate=learning_rate,
                     kl_beta=beta, seed=seed, precision=lab.precision, **LAB_MODEL, **GRPO_LAB)
    return Trainer(cfg, echo=lambda text: None)


def reply_style(text: str) -> str:
    """'result' for 'The answer is N.', 'restate' for replies that begin with the sum ('3 + 4 = 7.')."""
    if text.startswith("The answer"):
        return "result"
    return "restate" if text[:1].isdigit() else "other"


# -- sampling and scoring ----------------------------------------------------------------------
def accuracy(model: nn.Module, tok: MiniMindTokenizer, rows: list[Row], samples: int = 1,
             temperature: float = 0.0, seed: int = 0) -> Accuracy:
    """evaluate.arithmetic_accuracy at the lab's settings: replies of at most 12 tokens (the lab's
    replies take ~8), 256 prompts a batch."""
    return arithmetic_accuracy(model, tok, rows, max_new_tokens=12, temperature=temperature, samples=samples,
                               seed=seed, batch_size=256)


def binomial_se(p: float, n: int) -> float:
    """Standard error of a share p measured on n independent draws."""
    return (p * (1 - p) / max(n, 1)) ** 0.5


@torch.no_grad()
def policy_kl(policy: nn.Module, reference: nn.Module, replies: list[Reply], batch_size: int = 64) -> list[float]:
    """KL(policy || reference) of each reply, in nats: at every reply position the exact KL between
    the two next-token distributions, summed over the reply. Averaged over replies the policy sampled
    itself, this estimates the sequence-level KL the GRPO penalty keeps small."""
    out = []
    for start in range(0, len(replies), batch_size):
        chunk = replies[start:start + batch_size]
        rows = [r.prompt_ids + r.tokens for r in chunk]
        ids = torch.zeros((len(rows), max(map(len, rows))), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = torch.tensor(row)  # right-padded: causal attention never sees the pad
        p = policy(ids).logits[:, :-1].float().log_softmax(-1)  # (B, T-1, V)
        q = reference(ids).logits[:, :-1].float().log_softmax(-1)
        per_position = (p.exp() * (p - q)).sum(-1)  # (B, T-1)
        for i, r in enumerate(chunk):
            first = len(r.prompt_ids) - 1  # the position that predicts the first reply token
            out.append(float(per_position[i, first:first + len(r.tokens)].sum()))
    return out


# -- DPO pairs by kind ---------------------------------------------------------------------------
RUDE = set(phrasing.RUDE_EN) | set(phrasing.RUDE_ZH)
PAIR_KINDS = ("wrong", "rude", "off-topic")


def pair_kind(row: dict) -> str:
    """What separates a pair (tools/corpus/preferences.py makes three kinds): 'rude' when the rejected
    reply is one of the canned rude lines; 'wrong' when it is the chosen sentence with one value changed
    (a near-miss sum or a wrong fact: the two strings are mostly the same); else 'off-topic'."""
    chosen, rejected = row["chosen"][-1]["content"], row["rejected"][-1]["content"]
    if rejected in RUDE:
        return "rude"
    return "wrong" if difflib.SequenceMatcher(None, chosen, rejected).ratio() > 0.6 else "off-topic"
