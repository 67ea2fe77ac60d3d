"""Small, fast training runs for the experiments: byte-level text from the embedded
corpus, a seeded batch sampler, and one small-model trainer that notices divergence.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import torch
from torch import nn

from minimind_notes.content import data_dir
from minimind_notes.errors import MiniMindError


@cache
def corpus_text(split: str = "train", lang: str = "en", max_chars: int = 2_000_000) -> str:
    """Documents of the embedded pretraining corpus joined by newlines.

    lang: 'en' (ASCII stories, one byte per character), 'zh', or 'all'.
    """
    path = data_dir() / ("pretrain.jsonl" if split == "train" else "pretrain_val.jsonl")
    if not path.is_file():
        raise MiniMindError(f"embedded corpus missing: {path}",
                            hint="reinstall the package, or point MINIMIND_CONTENT at a clone")
    parts, size = [], 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            text = json.loads(line)["text"]
            is_zh = any("\u4e00" <= ch <= "\u9fff" for ch in text[:50])
            if lang == "all" or (lang == "zh") == is_zh:
                parts.append(text)
                size += len(text) + 1
                if size >= max_chars:
                    break
    return "\n".join(parts)


def unigram_entropy(text: str) -> float:
    """Loss (nats/byte) of the best model that ignores context: it predicts the byte frequencies."""
    counts = torch.bincount(torch.frombuffer(bytearray(text.encode("utf-8")), dtype=torch.uint8).long(),
                            minlength=256).float()
    p = counts[counts > 0] / counts.sum()
    return float(-(p * p.log()).sum())


class ByteBatches:
    """Random windows of a text's UTF-8 bytes as (B, T) token ids, vocab 256."""

    def __init__(self, text: str, seed: int = 0) -> None:
        self.data = torch.frombuffer(bytearray(text.encode("utf-8")), dtype=torch.uint8).long()
        self.gen = torch.Generator().manual_seed(seed)

    def sample(self, batch_size: int, seq_len: int) -> torch.Tensor:
        starts = torch.randint(0, len(self.data) - seq_len, (batch_size,), generator=self.gen)
        return torch.stack([self.data[s:s + seq_len] for s in starts.tolist()])

    def fixed(self, n: int, seq_len: int) -> torch.Tensor:
        """n evenly spaced windows: the same evaluation batch every time."""
        starts = torch.linspace(0, len(self.data) - seq_len - 1, n).long()
        return torch.stack([self.data[s:s + seq_len] for s in starts.tolist()])


@dataclass
class TrainLog:
    losses: list[float] = field(default_factory=list)  # next-token cross-entropy per step
    aux_losses: list[float] = field(default_factory=list)  # MoE load-balancing loss per step (0 for dense)
    grad_norms: list[float] = field(default_factory=list)
    first_bad_step: int | None = None  # step whose loss was NaN/inf (training stopped there)

    @property
    def diverged(self) -> bool:
        return self.first_bad_step is not None

    def final(self, last: int = 10) -> float:
        """Mean loss of the last steps (inf if training diverged)."""
        return math.inf if self.diverged else sum(self.losses[-last:]) / len(self.losses[-last:])


def train_lm(model: nn.Module, batches: ByteBatches, steps: int, batch_size: int = 16,
             seq_len: int = 64, lr: float = 3e-3, clip: float | None = 1.0, warmup: int = 10,
             min_lr_ratio: float = 1.0, diverge_at: float = 1e4,
             on_step: Callable[[int], None] | None = None, precision: str = "fp32") -> TrainLog:
    """The experiments' small-model trainer: AdamW with the trainer's warm-up and cosine decay to
    `min_lr_ratio` x lr (train/schedule.py; the default 1.0 keeps the LR constant after warm-up),
    backpropagating `out.loss + out.aux_loss` as the trainer's objectives do, so an MoE model's
    load-balancing loss takes part. Stops at the first non-finite (or exploding) loss.

    `precision` "bf16" runs the forward pass under bf16 autocast (fp32 weights and optimizer, as the
    trainer does), "fp32" runs it plain: pass the experiment's `ctx.precision`.

    `on_step(step)` runs before each step and once more with step == steps at the end, e.g. to
    measure the routing as training goes."""
    from minimind_notes.device import autocast
    from minimind_notes.train.optim import build_adamw
    from minimind_notes.train.schedule import lr_at

    cpu = torch.device("cpu")
    amp = {"fp32": None, "bf16": torch.bfloat16}[precision]
    model.train()
    opt, _ = build_adamw(model.parameters(), lr, cpu, weight_decay=0.0)
    log = TrainLog()
    for step in range(steps):
        if on_step is not None:
            on_step(step)
        for group in opt.param_groups:
            group["lr"] = lr_at(step / steps, step, lr, warmup, min_lr_ratio)
        ids = batches.sample(batch_size, seq_len)
        with autocast(cpu, amp):  # the forward only: backward and the update stay outside, in fp32
            out = model(ids, labels=ids)
        value = out.loss.item()
        if not math.isfinite(value) or value > diverge_at:
            log.first_bad_step = step
            break
        aux = out.aux_loss if out.aux_loss is not None else torch.zeros(())
        log.losses.append(value)
        log.aux_losses.append(aux.item())
        (out.loss + aux).backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), clip if clip else float("inf"))
        log.grad_norms.append(float(norm))
        opt.step()
        opt.zero_grad(set_to_none=True)
    if on_step is not None and not log.diverged:
        on_step(steps)
    model.eval()
    return log


@torch.no_grad()
def eval_loss(model: nn.Module, ids: torch.Tensor, batch_size: int = 16) -> float:
    """Mean next-token loss (nats) over fixed evaluation windows."""
    model.eval()
    losses = [float(model(ids[i:i + batch_size], labels=ids[i:i + batch_size]).loss)
              for i in range(0, len(ids), batch_size)]
    return sum(losses) / len(losses)
