"""The one training loop every stage shares.

AdamW (fused where available), warm-up + cosine LR, gradient accumulation, clipping,
explicit precision (bf16 autocast or fp32), DDP, a NaN guard that never saves non-finite
weights, atomic checkpoints every `save_every` steps and at a step boundary on Ctrl-C or
SIGTERM, and `--resume` that continues exactly where it stopped (and refuses another run).
A new run never replaces an earlier one unless asked to (`--overwrite`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import nn

from minimind_notes.chat import tokenizer_for_weights
from minimind_notes.device import autocast, autocast_dtype, pick_device, precision_name, synchronize
from minimind_notes.errors import MiniMindError, RunExists, UsageError
from minimind_notes.fileio import atomic_path, atomic_write_text, remove_stale_temps
from minimind_notes.model import MiniMindForCausalLM, load_weights, preset, save_checkpoint
from minimind_notes.model.checkpoint import generation_of, read_metadata, read_state_dict
from minimind_notes.train.config import DEFAULTS, TrainConfig, find_weight, weight_path
from minimind_notes.train.distributed import (
    DistInfo,
    all_reduce_mean,
    any_rank,
    cleanup_distributed,
    setup_distributed,
)
from minimind_notes.train.objectives import OBJECTIVES, Objective
from minimind_notes.train.optim import build_adamw
from minimind_notes.train.resume import (
    differences,
    file_identity,
    load_latest,
    prune_states,
    rng_state,
    saved_states,
    set_rng_state,
    state_path,
    write_state,
)
from minimind_notes.train.rl import RL_OBJECTIVES
from minimind_notes.train.schedule import lr_at
from minimind_notes.train.stop import StopRequest
from minimind_notes.train.tracking import WandbTracker, wandb_module

if TYPE_CHECKING:
    from minimind_notes.data.tokenizer import MiniMindTokenizer


class TrainingDiverged(MiniMindError):
    pass


@dataclass
class RunSummary:
    stage: str
    weights: str
    run_dir: str
    steps: int
    tokens: int
    seconds: float
    tokens_per_s: float
    train_loss: float
    precision: str
    device: str
    params: int
    trainable_params: int
    final_eval: dict[str, float]
    first_eval: dict[str, float]
    wall_seconds: float  # the whole command, start-up included: what --time-budget bounds
    phases: dict[str, float]  # where those seconds went: startup, data, eval, loop, save


def model_config_for(cfg: TrainConfig, vocab_size: int, hidden: int | None = None, layers: int | None = None):
    # a training window is T+1 tokens (inputs and the shifted labels)
    overrides: dict[str, Any] = {"vocab_size": vocab_size, "max_position_embeddings": max(4096, cfg.max_seq_len + 1)}
    hidden = cfg.hidden_size if hidden is None else hidden  # only None means the preset's: 0 is refused earlier
    layers = cfg.num_hidden_layers if layers is None else layers
    if hidden is not None:
        overrides["hidden_size"] = hidden
        overrides["intermediate_size"] = None
    if layers is not None:
        overrides["num_hidden_layers"] = layers
    if cfg.use_moe:
        overrides["use_moe"] = True
    config = preset(cfg.preset)
    return config.replace(**overrides)


class StepDisplay(Protocol):
    """What the caller shows while the loop runs, on the main rank (the CLI: a rich progress bar)."""

    def __enter__(self) -> StepDisplay: ...

    def __exit__(self, *exc: object) -> None: ...

    def update(self, step: int, logs: dict[str, float]) -> None: ...


class NoDisplay:
    """Shows nothing: experiments, tests, the other ranks."""

    def __enter__(self) -> NoDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, step: int, logs: dict[str, float]) -> None:
        pass


# What a save is assumed to write per second until one has been timed (a slow disk): the time budget keeps that
# much time for the final save.
SAVE_BYTES_PER_S = 100e6


class Trainer:
    """`echo` prints the run's few lines of text; `display(total_steps, first_step)` makes what shows
    the steps as they go (default: nothing). `started` is when the command started (time.monotonic()):
    --time-budget bounds the time from then to the end of the final save."""

    def __init__(self, cfg: TrainConfig, echo: Callable[[str], Any] = print,
                 display: Callable[[int, int], StepDisplay] | None = None, started: float | None = None) -> None:
        from minimind_notes.data.tokenizer import MiniMindTokenizer

        self.cfg, self.echo, self.display = cfg, echo, display
        self.started = time.monotonic() if started is None else started
        self.phases = dict.fromkeys(("startup", "data", "eval", "loop", "save"), 0.0)
        self.eval_cost, self.save_cost = 0.0, None  # the last evaluation's and save's seconds
        if cfg.use_wandb:  # before the data is prepared: a missing package stops the run at once
            wandb_module()
        requested = pick_device(cfg.device)
        self.dist: DistInfo = setup_distributed(requested.type)
        self.device = (torch.device(f"cuda:{self.dist.local_rank}") if requested.type == "cuda"
                       and self.dist.enabled else requested)
        seed_everything(cfg.seed)
        self.tok = MiniMindTokenizer.from_dir(cfg.tokenizer)
        self.teacher: Path | None = None  # distillation's: out/<teacher>_<hidden>, else the only out/<teacher>_*
        if cfg.stage == "distill":
            self.teacher = find_teacher(cfg, model_config_for(cfg, self.tok.vocab_size).hidden_size)
            check_teacher_tokenizer(self.teacher, self.tok)
        inputs = {"teacher": self.teacher} if self.teacher else {}
        data_start = time.monotonic()
        objective = {**OBJECTIVES, **RL_OBJECTIVES}[cfg.stage]
        self.objective: Objective = objective(cfg, self.tok, self.device, self.dist.rank, self.dist.world, **inputs)
        self.phases["data"] = time.monotonic() - data_start
        self.model = self.build_model()
        self.amp = autocast_dtype(self.device, cfg.precision)
        self.params = self.objective.trainable(self.model)
        self.optimizer, self.optimizer_impl = build_adamw(self.objective.param_groups(self.model), cfg.learning_rate,
                                                          self.device, cfg.weight_decay)
        self.net: nn.Module = self.model
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.dist.local_rank] if self.device.type == "cuda" else None
            self.net = DDP(self.model, device_ids=ids)
        if cfg.compile:
            self.net = torch.compile(self.net)
        config = self.model.config
        self.weights_path = weight_path(cfg.save_dir, cfg.run_name or cfg.save_name, config.hidden_size,
                                        config.use_moe)
        self.run_dir = Path(cfg.save_dir) / "runs" / self.weights_path.stem
        per_step = cfg.batch_size * self.dist.world * cfg.accumulation_steps
        self.total_steps = cfg.max_steps or max(1, math.ceil(
            cfg.epochs * self.objective.examples_per_epoch / per_step))
        self.step, self.tokens, self.elapsed = 0, 0, 0.0
        self.last_saved_step: int | None = None
        self.train_loss = math.nan  # the last step's (all-reduced) training loss
        self.replaced: Path | None = None  # an earlier run --overwrite set aside until this one has saved
        self.tracker: WandbTracker | None = None
        # a save writes the weights, the model again in the resume state and AdamW's two moments
        self.save_bytes = 4 * sum(p.numel() * p.element_size() for p in self.model.parameters())
        # the loop's seconds, what the LR schedule's time axis ends at: run() takes the time spent before the loop
        # and kept for the final evaluation and save out of the budget
        self.loop_budget = cfg.time_budget or math.inf
        self.phases["startup"] = time.monotonic() - self.started - self.phases["data"]

    # -- setup -----------------------------------------------------------------------------
    def build_model(self) -> nn.Module:
        cfg = self.cfg
        if cfg.stage == "distill":  # the student: half the teacher's width and depth by default
            from minimind_notes.model.checkpoint import read_config

            tcfg = read_config(self.teacher) or model_config_for(cfg, self.tok.vocab_size)
            config = model_config_for(
                cfg, self.tok.vocab_size,
                tcfg.hidden_size // 2 if cfg.hidden_size is None else cfg.hidden_size,
                max(1, tcfg.num_hidden_layers // 2) if cfg.num_hidden_layers is None else cfg.num_hidden_layers)
        else:
            config = model_config_for(cfg, self.tok.vocab_size)
        model = MiniMindForCausalLM(config)
        if cfg.from_weight:
            path = find_weight(cfg.save_dir, cfg.from_weight, config.hidden_size, config.use_moe)
            state = read_state_dict(path)
            tok, _ = tokenizer_for_weights(path, cfg.tokenizer, generation_of(state))
            if tok.vocab_hash != self.tok.vocab_hash:  # official weights with their tokenizer beside them
                raise MiniMindError(f"--from_weight {path} needs its own tokenizer, {tok.describe()}, not "
                                    f"{self.tok.describe()}", hint=f"pass --tokenizer {tok.path}")
            load_weights(model, state, what=f"checkpoint {path}")
            broken = non_finite(model.state_dict())
            if broken:
                raise MiniMindError(
                    f"the starting weights {path} contain NaN or inf in {len(broken)} tensors ({broken[0]}, ...); "
                    "training from them cannot work",
                    hint="start from an earlier checkpoint, or retrain that stage (a too-high learning rate "
                         "there is the usual cause)")
            self.log(f"Loaded {path}")
        model.to(self.device)
        return self.objective.prepare_model(model)

    def log(self, text: str) -> None:
        if self.dist.is_main:
            self.echo(text)

    # -- checkpoints ---------------------------------------------------------------------
    def run_identity(self) -> dict[str, Any]:
        """What must not change between a run and its --resume."""
        cfg = self.cfg
        return {"stage": cfg.stage, "model": self.model.config.to_dict(), "batch_size": cfg.batch_size,
                "accumulation_steps": cfg.accumulation_steps, "max_seq_len": cfg.max_seq_len,
                "processes": self.dist.world, "seed": cfg.seed, "data": file_identity(cfg.data_path),
                "tokenizer": self.tok.fingerprint(),
                **({"lora_rank": cfg.lora_rank} if cfg.stage == "lora" else {})}

    def check_earlier_run(self) -> None:
        """Refuse to start over an earlier run unless --resume or --overwrite says what to do with it."""
        cfg = self.cfg
        if cfg.resume:
            return
        earlier = [p for p in (self.weights_path, self.run_dir / "metrics.jsonl") if p.exists()]
        earlier += saved_states(self.run_dir)[:1]
        if not earlier:
            return
        if not cfg.overwrite:
            raise RunExists(
                f"an earlier {cfg.stage} run is here: {', '.join(map(str, earlier))}",
                hint="continue it with --resume, replace it with --overwrite, or keep both with --run-name NAME")
        if self.dist.is_main:  # set aside until the new run has saved: a run that fails first restores it
            self.replaced = self.run_dir.with_name(self.run_dir.name + ".replaced")
            shutil.rmtree(self.replaced, ignore_errors=True)
            if self.run_dir.exists():
                os.replace(self.run_dir, self.replaced)
            self.replaced.mkdir(parents=True, exist_ok=True)
            if self.weights_path.exists():
                os.replace(self.weights_path, self.replaced / self.weights_path.name)

    def restore_replaced(self) -> None:
        """Put back the earlier run that --overwrite set aside (the new one failed before saving)."""
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self.weights_path.unlink(missing_ok=True)
        old_weights = self.replaced / self.weights_path.name
        if old_weights.exists():
            os.replace(old_weights, self.weights_path)
        if any(self.replaced.iterdir()):
            os.replace(self.replaced, self.run_dir)
        else:
            self.replaced.rmdir()
        self.log(f"[yellow]The earlier run was put back ({self.weights_path}, {self.run_dir}).[/]")

    def save(self) -> None:
        """Weights (safetensors) and the resume state, both atomic and only when finite, rank 0 only."""
        if not self.dist.is_main:
            return
        start = time.monotonic()
        self.write_checkpoint()
        self.save_cost = time.monotonic() - start
        self.phases["save"] += self.save_cost

    def write_checkpoint(self) -> None:
        broken = non_finite(self.model.state_dict()) + non_finite(self.optimizer.state_dict()["state"])
        if broken:
            self.diverged(f"non-finite values in {len(broken)} tensors of the model or optimizer ({broken[0]})")
        weights = self.objective.weights_to_save(self.model)
        meta = {"stage": self.cfg.stage, "step": str(self.step), **self.tok.identity(), **self.objective.metadata()}
        state = {"step": self.step, "tokens": self.tokens, "elapsed": self.elapsed, "train_loss": self.train_loss,
                 "run": self.run_identity(), "model": self.model.state_dict(),
                 "optimizer": self.optimizer.state_dict(), "data": self.objective.state_dict(), "rng": rng_state()}
        kept = f"; the previous checkpoint (step {self.last_saved_step}) is kept" if self.last_saved_step else ""
        try:
            remove_stale_temps(self.weights_path.parent)
            # Both files are written in full before either replaces its predecessor: a save that fails
            # (full disk, killed) leaves the previous weights and state as they were, and consistent.
            with atomic_path(state_path(self.run_dir, self.step)) as state_tmp, \
                    atomic_path(self.weights_path) as weights_tmp:
                write_state(state_tmp, state)
                if weights is None:
                    save_checkpoint(self.model, weights_tmp, meta)
                else:
                    from safetensors.torch import save_file

                    save_file({k: v.contiguous() for k, v in weights.items()}, str(weights_tmp), metadata=meta)
            prune_states(self.run_dir)
            if self.replaced is not None:  # the new run has its first checkpoint: the earlier one goes
                shutil.rmtree(self.replaced, ignore_errors=True)
                self.replaced = None
        except OSError as e:
            raise MiniMindError(f"cannot save the checkpoint of step {self.step} in {self.weights_path.parent}: "
                                f"{e.strerror or e}{kept}",
                                hint="free disk space or pass another --save_dir, then continue with --resume"
                                ) from None
        self.last_saved_step = self.step

    def resume(self) -> None:
        state, path = load_latest(self.run_dir, self.device, self.log)
        changed = differences(state.get("run", {}), self.run_identity())
        if changed:
            raise UsageError(f"--resume: {path} belongs to a different run; changed: " + "; ".join(changed),
                             hint="resume with the settings the run started with, or start a new run "
                                  "with --overwrite or --run-name NAME")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.objective.load_state_dict(state["data"])
        set_rng_state(state["rng"])
        self.step, self.tokens, self.elapsed = state["step"], state["tokens"], state["elapsed"]
        self.train_loss = state["train_loss"]
        self.last_saved_step = self.step
        self.log(f"Resumed {path} at step {self.step}")
        if self.step >= self.total_steps:
            self.log(f"The run had already finished its {self.total_steps} steps; to train longer, raise "
                     "--max-steps or --epochs.")

    # -- the loop --------------------------------------------------------------------------
    def progress_fraction(self) -> float:
        by_steps = self.step / self.total_steps
        if self.cfg.time_budget:
            return max(by_steps, self.elapsed / self.loop_budget)
        return by_steps

    def seconds_needed(self, step_cost: float) -> float:
        """What the command still needs to end cleanly after one more step: that step, an evaluation or save it
        is due for, then the final evaluation and save (their last measured durations; a save not yet made:
        its bytes at SAVE_BYTES_PER_S)."""
        cfg, nxt = self.cfg, self.step + 1
        save = self.save_cost if self.save_cost is not None else self.save_bytes / SAVE_BYTES_PER_S
        due = (self.eval_cost if cfg.eval_every and nxt % cfg.eval_every == 0 else 0.0) + (
            save if cfg.save_every and nxt % cfg.save_every == 0 else 0.0)
        return step_cost + due + self.eval_cost + save

    def out_of_time(self, step_cost: float) -> bool:
        """--time-budget bounds the whole command: no step starts that would leave too little for the rest."""
        budget = self.cfg.time_budget
        late = bool(budget) and time.monotonic() - self.started + self.seconds_needed(step_cost) > budget
        return any_rank(late, self.dist, self.device) if budget else False

    def train_step(self) -> dict[str, float]:
        cfg = self.cfg
        lr = lr_at(self.progress_fraction(), self.step, cfg.learning_rate, cfg.warmup_steps, cfg.min_lr_ratio)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        logs: dict[str, float] = {}
        for micro in range(cfg.accumulation_steps):
            batch = self.objective.next_batch()
            sync = (self.net.no_sync() if self.dist.enabled and micro < cfg.accumulation_steps - 1
                    else contextlib.nullcontext())
            with sync:
                with autocast(self.device, self.amp):
                    loss, micro_logs, n_tokens = self.objective.loss(self.net, batch)
                if not torch.isfinite(loss.detach()):
                    self.diverged(f"the loss became {float(loss.detach())}")
                (loss / cfg.accumulation_steps).backward()
            self.tokens += n_tokens * self.dist.world
            for k, v in micro_logs.items():
                logs[k] = logs.get(k, 0.0) + v / cfg.accumulation_steps
        limit = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
        # each group on its own (PPO's critic must not eat the actor's share); one group is the usual global clip
        norms = [nn.utils.clip_grad_norm_(g["params"], limit) for g in self.optimizer.param_groups]
        grad_norm = torch.stack(norms).norm()
        if not torch.isfinite(grad_norm):  # the update would write NaN into every weight: stop before it
            self.diverged(f"the gradient norm became {float(grad_norm)}")
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        logs["lr"], logs["grad_norm"] = lr, float(grad_norm)
        logs["loss"] = self.train_loss = all_reduce_mean(logs["loss"], self.dist, self.device)
        return logs

    def diverged(self, what: str) -> None:
        cfg = self.cfg
        where = (f"the last good checkpoint is {self.weights_path} (step {self.last_saved_step}); nothing "
                 "non-finite was saved" if self.last_saved_step is not None else "no checkpoint was written")
        default_lr = DEFAULTS[cfg.stage].learning_rate
        causes = []
        if cfg.learning_rate > 3 * default_lr:
            causes.append(f"--learning_rate {cfg.learning_rate:g} is {cfg.learning_rate / default_lr:.0f}x the "
                          f"{cfg.stage} default ({default_lr:g})")
        if cfg.grad_clip <= 0:
            causes.append("gradient clipping is off (--grad-clip 0)")
        likely = ("likely cause: " + "; ".join(causes) + ". " if causes else "")
        raise TrainingDiverged(
            f"{what} at step {self.step + 1}; training stopped and {where}",
            hint=likely + "lower --learning_rate (e.g. by 3-10x), keep gradient clipping on (--grad-clip 1.0), "
                          "and check the data for empty or broken rows")

    def run(self) -> RunSummary:
        if self.cfg.from_resume and not self.cfg.resume and saved_states(self.run_dir):
            self.cfg.resume = True  # MiniMind's --from_resume 1: continue a saved run, else start one
            self.log(f"--from_resume: continuing the run saved in {self.run_dir}")
        self.check_earlier_run()
        try:
            return self.train_until_done()
        except BaseException:
            if self.replaced is not None and self.dist.is_main:
                self.restore_replaced()
            raise

    def train_until_done(self) -> RunSummary:
        cfg = self.cfg
        if cfg.resume:
            self.resume()
        metrics_file = self.run_dir / "metrics.jsonl"
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            if cfg.resume:
                keep_rows_until(metrics_file, self.step)  # rows an interrupted run logged after its last save
            else:
                atomic_write_text(self.run_dir / "config.json", json.dumps(cfg.to_dict(), indent=2, default=str))
            if cfg.use_wandb:
                self.tracker = WandbTracker(cfg.wandb_project, self.weights_path.stem, cfg.to_dict(), self.run_dir)
        first_eval = self.evaluate() if not cfg.resume else {}
        n_params = sum(p.numel() for p in self.model.parameters())
        n_train = sum(p.numel() for p in self.params)
        self.log(f"{cfg.stage}: {n_params:,} parameters ({n_train:,} trained), {self.total_steps} steps of "
                 f"{cfg.batch_size}x{self.dist.world}x{cfg.accumulation_steps} on {self.device} "
                 f"({precision_name(self.amp)}, AdamW {self.optimizer_impl})"
                 + (f", time budget {cfg.time_budget:.0f} s for the whole command" if cfg.time_budget else ""))
        for note in self.objective.data_notes():
            self.log(f"data: {note}")
        if first_eval:
            self.log("before: " + format_metrics(first_eval))
        logs: dict[str, float] = {}
        first_step = self.step
        window_start, window_tokens = time.perf_counter(), self.tokens
        bar = self.display(self.total_steps, self.step) if self.display and self.dist.is_main else NoDisplay()
        loop_start, elapsed_before = time.monotonic(), self.elapsed
        if cfg.time_budget:  # the LR schedule ends where the time left for the loop does
            spent = loop_start - self.started
            self.loop_budget = max(1e-3, self.elapsed + cfg.time_budget - spent - self.seconds_needed(0.0))
        with bar, StopRequest(self.log) as stop:
            while self.step < self.total_steps:
                step_cost = (self.elapsed - elapsed_before) / max(1, self.step - first_step)
                if self.out_of_time(step_cost):
                    self.log(f"Time budget of {cfg.time_budget:.0f} s: stopping at step {self.step}, "
                             f"{time.monotonic() - self.started:.1f} s in, to leave time for the final evaluation "
                             "and save." if self.step > first_step else
                             f"The time budget of {cfg.time_budget:.0f} s was spent before training could start "
                             f"(start-up, data, evaluation: {loop_start - self.started:.1f} s); raise --time-budget.")
                    break
                step_start = time.perf_counter()
                logs = self.train_step()
                synchronize(self.device)
                self.elapsed += time.perf_counter() - step_start
                if self.step % cfg.log_every == 0 or self.step == self.total_steps:
                    now = time.perf_counter()
                    logs["tokens_per_s"] = (self.tokens - window_tokens) / max(now - window_start, 1e-9)
                    window_start, window_tokens = now, self.tokens
                    self.write_metrics(metrics_file, logs)
                if cfg.eval_every and self.step % cfg.eval_every == 0 and self.step < self.total_steps:
                    self.write_metrics(metrics_file, self.evaluate())
                bar.update(self.step, logs)
                if cfg.save_every and self.step % cfg.save_every == 0:
                    self.save()
                if any_rank(stop.requested is not None, self.dist, self.device):
                    self.stopped(stop.requested or "a signal on another rank")
        self.phases["loop"] = self.elapsed - elapsed_before
        final_eval = self.evaluate() if self.step > first_step or not first_eval else first_eval
        if self.step > first_step:  # a resumed run that had already finished adds nothing to its log
            self.write_metrics(metrics_file, final_eval)
        if self.last_saved_step != self.step:
            self.save()
        if self.tracker is not None:
            self.tracker.finish()
        summary = RunSummary(
            stage=cfg.stage, weights=str(self.weights_path), run_dir=str(self.run_dir), steps=self.step,
            tokens=self.tokens, seconds=round(self.elapsed, 2),
            tokens_per_s=self.tokens / max(self.elapsed, 1e-9), train_loss=self.train_loss,
            precision=precision_name(self.amp), device=str(self.device), params=n_params,
            trainable_params=n_train, final_eval=final_eval, first_eval=first_eval,
            wall_seconds=round(time.monotonic() - self.started, 2),
            phases={k: round(v, 2) for k, v in self.phases.items()})
        if self.dist.is_main:
            atomic_write_text(self.run_dir / "summary.json", json.dumps(asdict(summary), indent=2))
        cleanup_distributed()
        return summary

    def stopped(self, signal_name: str) -> None:
        """Save at this step boundary and leave with the signal's exit code."""
        if self.last_saved_step != self.step:
            self.save()
        cleanup_distributed()
        error = MiniMindError(f"stopped by {signal_name} at step {self.step}; the state of that step is saved in "
                              f"{self.run_dir / 'checkpoints'}",
                              hint="continue exactly where it stopped: the same command plus --resume")
        error.exit_code = 143 if signal_name == "SIGTERM" else 130
        raise error

    def evaluate(self) -> dict[str, float]:
        if not self.dist.is_main:
            return {}
        start = time.monotonic()
        values = self.objective.evaluate(self.model)
        self.eval_cost = time.monotonic() - start
        self.phases["eval"] += self.eval_cost
        return values

    def write_metrics(self, path: Path, values: dict[str, float]) -> None:
        if self.dist.is_main and values:
            row = {"step": self.step, "tokens": self.tokens, "time": round(self.elapsed, 3), **values}
            with open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
            if self.tracker is not None:
                self.tracker.log(values, self.step)


def format_metrics(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4g}" for k, v in values.items())


def find_teacher(cfg: TrainConfig, hidden: int) -> Path:
    """The teacher checkpoint: out/<teacher>_<hidden>[_moe] (MiniMind's --teacher_hidden_size and --teacher_use_moe
    say which), else the only out/<teacher>_*.safetensors; --teacher_num_layers is checked against it."""
    from minimind_notes.model.checkpoint import read_config

    try:
        path = find_weight(cfg.save_dir, cfg.teacher_weight, cfg.teacher_hidden_size or hidden, cfg.teacher_use_moe)
    except MiniMindError:
        found = sorted(Path(cfg.save_dir).glob(f"{cfg.teacher_weight}_*.safetensors"))
        if len(found) != 1 or cfg.teacher_hidden_size:
            raise
        path = found[0]
    layers = getattr(read_config(path), "num_hidden_layers", None)
    if cfg.teacher_num_layers and layers and layers != cfg.teacher_num_layers:
        raise UsageError(f"--teacher_num_layers {cfg.teacher_num_layers}: the teacher {path} has {layers} layers",
                         hint=f"pass --teacher_num_layers {layers}, or --from_teacher_weight the teacher you meant")
    return path


def check_teacher_tokenizer(teacher: Path, tok: MiniMindTokenizer) -> None:
    """Distillation compares the teacher's and the student's next-token distributions id by id: both must
    read text with the same tokenizer. Official .pth teachers record none: theirs is their generation's."""
    recorded = read_metadata(teacher)
    if teacher.suffix in (".pth", ".pt"):  # refuses a tokenizer that is not the official one of its generation
        tokenizer_for_weights(teacher, str(tok.path), generation_of(read_state_dict(teacher)))
    if "tokenizer_vocab" in recorded and recorded["tokenizer_vocab"] != tok.vocab_hash:
        raise MiniMindError(
            f"the teacher {teacher} was trained with tokenizer {recorded.get('tokenizer_name', '?')} (vocabulary "
            f"{recorded['tokenizer_vocab']}) and the student would learn with {tok.describe()} from {tok.path}: "
            "distillation compares their predictions token id by token id, so both need the same tokenizer",
            hint="pass the teacher's tokenizer with --tokenizer, or a teacher trained with this one")


def seed_everything(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def non_finite(tensors: dict[Any, Any], prefix: str = "") -> list[str]:
    """Names of the tensors (searched through nested dicts) that hold NaN or inf."""
    bad = []
    for name, value in tensors.items():
        if isinstance(value, dict):
            bad += non_finite(value, f"{prefix}{name}.")
        elif isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all():
            bad.append(f"{prefix}{name}")
    return bad


def keep_rows_until(metrics_file: Path, step: int) -> None:
    """Drop the metrics rows logged after `step` (by a run that was stopped before saving them)."""
    if not metrics_file.is_file():
        return
    lines = metrics_file.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if line.strip() and json.loads(line).get("step", 0) <= step]
    if len(kept) != len(lines):
        atomic_write_text(metrics_file, "".join(kept))


def train(cfg: TrainConfig, echo: Callable[[str], Any] = print,
          display: Callable[[int, int], StepDisplay] | None = None, started: float | None = None) -> RunSummary:
    return Trainer(cfg, echo, display, started).run()
