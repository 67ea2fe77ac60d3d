"""`--preset auto`: the model size for a time budget on this machine, from a measured probe and a
compute-optimal rule.

The rule is Chinchilla's fitted loss law (Hoffmann et al. 2022, approach 3),
L(N, D) = E + A / N^alpha + B / D^beta, for N parameters trained on D tokens. In a fixed time a
bigger model sees fewer tokens: D = tokens/s(N) x seconds. The probe times two training steps of
each candidate shape on this machine, in the run's precision and batch (the first one warms up), so
tokens/s(N) is measured, not assumed; the plan is the candidate with the lowest predicted loss.
The law was fitted on far larger models and unique tokens: it ranks sizes here, it does not
predict the loss.

The probe's own time and a reserve come out of the training time, so that the whole command stays
within the budget: EVAL_SHARE of the budget for the two held-out evaluations (before and after; their
rows are sized from the probed speed, a forward pass taken as a third of a training step) and
STARTUP_SHARE for tokenizing the data and saving.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from minimind_notes.train.config import TrainConfig

# (hidden, layers) on the `tiny` family (8 heads, 2 KV heads, FFN 8/3 of hidden), smallest first.
CANDIDATES = ((128, 2), (192, 2), (192, 4), (256, 4), (384, 4), (512, 6))
CHINCHILLA = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
EVAL_SHARE = 0.10  # of the budget: the first and the last held-out evaluation
STARTUP_SHARE = 0.05  # tokenizing the data, building the model, saving
RESERVE = EVAL_SHARE + STARTUP_SHARE


def predicted_loss(params: int, tokens: float) -> float:
    c = CHINCHILLA
    return c["E"] + c["A"] / params ** c["alpha"] + c["B"] / max(tokens, 1.0) ** c["beta"]


@dataclass(frozen=True)
class Candidate:
    hidden: int
    layers: int
    params: int
    tokens_per_s: float
    predicted_loss: float


@dataclass(frozen=True)
class AutoPlan:
    hidden: int
    layers: int
    train_seconds: float  # the time budget left for training after the probe and the reserve
    probe_seconds: float
    candidates: tuple[Candidate, ...]

    @property
    def chosen(self) -> Candidate:
        return next(c for c in self.candidates if (c.hidden, c.layers) == (self.hidden, self.layers))


def probe_tokens_per_s(model: torch.nn.Module, device: torch.device, amp: torch.dtype | None,
                       batch: int, seq_len: int) -> float:
    """Tokens/s of a forward + backward + AdamW step, the second of two (the first warms up)."""
    from minimind_notes.device import autocast, synchronize
    from minimind_notes.train.optim import build_adamw

    opt, _ = build_adamw(model.parameters(), 1e-4, device)
    ids = torch.randint(0, model.config.vocab_size, (batch, seq_len + 1), device=device)
    for _ in range(2):
        synchronize(device)
        start = time.perf_counter()
        with autocast(device, amp):
            loss = model(ids, labels=ids, fused_loss=True).loss  # the trainer's step
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        synchronize(device)
    return batch * (seq_len + 1) / (time.perf_counter() - start)


def plan_auto(budget_s: float, device: torch.device, amp: torch.dtype | None, batch: int, seq_len: int,
              vocab_size: int, echo: Callable[[str], object] = print, started_at: float | None = None) -> AutoPlan:
    """Probe each candidate (smallest first) and pick the lowest predicted loss for the budget.

    Probing stops at the first candidate whose predicted loss is worse than the one before (a bigger
    model only sees fewer tokens), or whose probe alone would take more than 3% of the budget.
    started_at: the time.monotonic() the budget counts from (the command's start; default: now)."""
    from minimind_notes.model import MiniMindForCausalLM, preset

    start = time.monotonic()
    usable = budget_s * (1 - RESERVE) - (start - (start if started_at is None else started_at))
    probed: list[tuple[int, int, int, float]] = []  # (hidden, layers, parameters, tokens/s)
    for hidden, layers in CANDIDATES:
        config = preset("tiny").replace(hidden_size=hidden, intermediate_size=None, num_hidden_layers=layers,
                                         vocab_size=vocab_size, max_position_embeddings=max(4096, seq_len + 1))
        torch.manual_seed(0)
        model = MiniMindForCausalLM(config).to(device).train()
        before = time.perf_counter()
        tokens_per_s = probe_tokens_per_s(model, device, amp, batch, seq_len)
        probe_s = time.perf_counter() - before
        probed.append((hidden, layers, model.num_parameters(), tokens_per_s))
        losses = [predicted_loss(n, tps * usable) for *_, n, tps in probed[-2:]]
        if len(losses) == 2 and losses[1] > losses[0] or probe_s > 0.03 * budget_s:
            break
    probe_seconds = time.monotonic() - start
    train_seconds = max(usable - probe_seconds, 1.0)
    candidates = tuple(Candidate(h, n_layers, n, tps, predicted_loss(n, tps * train_seconds))
                       for h, n_layers, n, tps in probed)
    best = min(candidates, key=lambda c: c.predicted_loss)
    echo(f"--preset auto: probed {len(candidates)} sizes in {probe_seconds:.1f} s; chose hidden {best.hidden} x "
         f"{best.layers} layers ({best.params / 1e6:.1f}M parameters, {best.tokens_per_s:,.0f} tokens/s), "
         f"{train_seconds:.0f} s of training")
    return AutoPlan(best.hidden, best.layers, train_seconds, probe_seconds, candidates)


def resolve_auto(cfg: TrainConfig, echo: Callable[[str], object] = print,
                 started_at: float | None = None) -> TrainConfig:
    """The run `--preset auto` means: the planned width and depth on the tiny family. The budget stays the
    whole command's (counted from `started_at`, a time.monotonic(); default: now): the trainer spends what is
    left of it after the probe, keeping time for the last evaluation and the save."""
    from minimind_notes.data.tokenizer import MiniMindTokenizer
    from minimind_notes.device import autocast_dtype, pick_device

    device = pick_device(cfg.device)
    vocab = MiniMindTokenizer.from_dir(cfg.tokenizer).vocab_size
    plan = plan_auto(float(cfg.time_budget), device, autocast_dtype(device, cfg.precision), cfg.batch_size,
                     cfg.max_seq_len, vocab, echo, started_at)
    # Each of the two evaluations gets half of EVAL_SHARE; a forward pass runs ~3x a training step's tokens/s.
    eval_rows = EVAL_SHARE / 2 * cfg.time_budget * 3 * plan.chosen.tokens_per_s / (cfg.max_seq_len + 1)
    eval_batches = max(1, min(int(eval_rows // cfg.batch_size), cfg.eval_batches))
    echo(f"(to resume this run, or rerun this size: --hidden-size {plan.hidden} --num-hidden-layers {plan.layers})")
    return replace(cfg, preset="tiny", hidden_size=plan.hidden, num_hidden_layers=plan.layers,
                   eval_batches=eval_batches)
