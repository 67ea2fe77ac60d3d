"""`minimind train STAGE`: one trainer for pretrain, sft, lora, dpo, distill, grpo, reward and ppo.

Its options are generated from train/config.py's OPTIONS, the declaration TrainConfig is checked
against: every field is a flag (--data-path, and MiniMind's --data_path), with its help and range.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable

import typer

from minimind_notes.cli.console import ProgressBar, console

STAGE_ARGUMENT = typer.Argument(..., help="pretrain, sft, lora, dpo, distill, grpo, reward or ppo.")
NPROC_OPTION = typer.Option(1, "--nproc", help="Processes to launch with torchrun (DDP).")


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
    if nproc > 1:
        launch_torchrun(nproc)
        return

    from minimind_notes.train.loop import format_metrics, train

    summary = train(cfg, echo=console.print, display=ProgressBar)
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


def launch_torchrun(nproc: int) -> None:
    """Re-run this command under torchrun with N processes (DDP; gloo on CPU, NCCL on CUDA)."""
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
           "-m", "minimind_notes", *args]
    console.print("Launching: " + " ".join(cmd[2:]))
    raise typer.Exit(subprocess.call(cmd))


train = train_options(run_training)
