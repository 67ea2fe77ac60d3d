"""`minimind train STAGE`: one trainer for pretrain, sft, lora, dpo, distill, grpo, reward and ppo.

Its options are generated from train/config.py's OPTIONS, the declaration TrainConfig is checked
against: every field is a flag (--data-path, and MiniMind's --data_path), with its help and range.
"""

from __future__ import annotations

import inspect
import time
import typing
from collections.abc import Callable

import typer
from typer.core import TyperCommand

from minimind_notes.cli.console import ProgressBar, console
from minimind_notes.train.config import STAGES

STAGE_ARGUMENT = typer.Argument(..., help="pretrain, sft, lora, dpo, distill, grpo, reward or ppo.")
NPROC_OPTION = typer.Option(1, "--nproc", help="Processes to launch with torchrun (DDP).")


SWITCH_VALUES = {"1": True, "true": True, "0": False, "false": False}


def switch_values(args: list[str]) -> list[str]:
    """MiniMind's on/off flags take a value (`--use_moe 1`, `--use_compile=0`); here they are flags: `--X 1` becomes
    `--X`, `--X 0` is dropped (every switch is off by default). Any other number after a switch is refused."""
    from minimind_notes.errors import UsageError
    from minimind_notes.train.config import OPTIONS

    switches = {flag for o in OPTIONS if o.switch for f in o.flags for flag in (f, "--" + f[2:].replace("-", "_"))}
    out, i = [], 0
    while i < len(args):
        flag, eq, value = args[i].partition("=")
        if flag in switches:
            if not eq and i + 1 < len(args) and not args[i + 1].startswith("-") and args[i + 1] not in STAGES:
                value, eq = args[i + 1], "="
                i += 1
            if eq and value.lower() not in SWITCH_VALUES:
                raise UsageError(f"{flag} {value}: expected 0 or 1", hint=f"{flag} 1 turns it on, {flag} 0 off")
            if not eq or SWITCH_VALUES[value.lower()]:
                out.append(flag)
        else:
            out.append(args[i])
        i += 1
    return out


class TrainCommand(TyperCommand):
    """`minimind train`, whose switches also take MiniMind's 0|1 values."""

    def parse_args(self, ctx, args):  # click's signature
        return super().parse_args(ctx, switch_values(args))


def train_options(run: Callable[..., None]) -> Callable[..., None]:
    """`run(stage, nproc, **fields)` as a typer command: one option per entry of OPTIONS, its default the
    TrainConfig field's, its type the field's."""
    from dataclasses import MISSING, fields

    from minimind_notes.train.config import OPTIONS, TrainConfig

    types = typing.get_type_hints(TrainConfig)
    defaults = {f.name: f.default for f in fields(TrainConfig) if f.default is not MISSING}
    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("stage", keyword, default=STAGE_ARGUMENT, annotation=str)]
    params += [inspect.Parameter(o.field, keyword, annotation=types[o.field],
                                 default=typer.Option(defaults[o.field], *o.flags, help=o.help)) for o in OPTIONS]
    params.append(inspect.Parameter("nproc", keyword, default=NPROC_OPTION, annotation=int))

    def train(**values: typing.Any) -> None:
        run(**values)

    train.__signature__ = inspect.Signature(params)  # what typer reads
    train.__doc__ = run.__doc__
    return train


def run_training(stage: str, nproc: int, **fields: typing.Any) -> None:
    """Train a MiniMind model. With no flags: the embedded data, the tiny preset, minutes on a CPU."""
    from minimind_notes.errors import UsageError
    from minimind_notes.train.config import TrainConfig

    if nproc < 1:
        raise UsageError(f"--nproc {nproc} is out of range: it must be >= 1")
    cfg = TrainConfig(stage=stage, **fields)
    settled: list[str] = []
    from minimind_notes import STARTED

    if cfg.preset == "auto":  # measured once, here; DDP workers get the chosen size and the budget left as flags
        from minimind_notes.train.auto_preset import resolve_auto

        cfg = resolve_auto(cfg, console.print, STARTED)
        left = max(float(cfg.time_budget) - (time.monotonic() - STARTED), 1.0)
        settled = [f"--preset={cfg.preset}", f"--hidden-size={cfg.hidden_size}",
                   f"--num-hidden-layers={cfg.num_hidden_layers}", f"--time-budget={left:.1f}"]
    if nproc > 1:
        launch_torchrun(nproc, settled)
        return

    from minimind_notes.train.loop import format_metrics, train

    summary = train(cfg, echo=console.print, display=ProgressBar, started=STARTED)
    console.rule(f"{stage} done")
    counted = "tokens" if stage == "pretrain" else "target tokens (those the loss counts)"
    console.print(f"{summary.steps} steps, {summary.tokens:,} {counted} in {summary.seconds:.0f} s "
                  f"({summary.tokens_per_s:,.0f}/s, {summary.precision} on {summary.device}); "
                  f"last train loss {summary.train_loss:.4f}")
    if summary.first_eval:
        console.print("held-out before: " + format_metrics(summary.first_eval))
    if summary.final_eval:
        console.print("held-out after:  " + format_metrics(summary.final_eval))
    console.print(f"weights: {summary.weights}   metrics: {summary.run_dir}/metrics.jsonl")
    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in summary.phases.items())
    budget = f" (time budget {cfg.time_budget:g} s)" if cfg.time_budget else ""
    console.print(f"time: {phases}; {summary.wall_seconds:.1f} s in all{budget}")
    record_run(cfg, summary)


def record_run(cfg, summary) -> None:
    """Remember the finished run in the learner's progress (rank 0 only)."""
    import os
    from pathlib import Path

    from minimind_notes.content import data_dir
    from minimind_notes.curriculum.progress import Progress

    if int(os.environ.get("RANK", "0")) != 0:
        return
    data = Path(cfg.data_path).resolve()
    own = not data.is_relative_to(data_dir().resolve())
    metrics = {"steps": summary.steps, "tokens": summary.tokens, "seconds": round(summary.seconds, 1),
               "train_loss": summary.train_loss, "weights": summary.weights, **summary.final_eval}
    Progress.shared().record_training(cfg.save_name, metrics, str(data), own)


def launch_torchrun(nproc: int, settled: list[str]) -> None:
    """Re-run this command under torchrun with N processes (DDP; gloo on CPU, NCCL on CUDA), with the
    `settled` flags appended (they win over the same flags typed earlier)."""
    import subprocess
    import sys

    args, skip = [], False
    for a in sys.argv[1:]:  # drop --nproc N / --nproc=N: each worker is one process
        if skip or a.startswith("--nproc="):
            skip = False
            continue
        if a == "--nproc":
            skip = True
            continue
        args.append(a)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "minimind_notes", *args, *settled]
    console.print("Launching: " + " ".join(cmd[2:]))
    raise typer.Exit(subprocess.call(cmd))


train = train_options(run_training)
