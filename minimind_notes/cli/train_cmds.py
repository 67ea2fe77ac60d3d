"""`minimind train STAGE`: one trainer for pretrain, sft, lora, dpo, distill and grpo.

MiniMind's flag names (--data_path, --batch_size, --from_weight, ...) work as aliases.
"""

from __future__ import annotations

import typer

from minimind_notes.cli.console import ProgressBar, console
from minimind_notes.train.config import TrainConfig


def train(
    stage: str = typer.Argument(..., help="pretrain, sft, lora, dpo, distill or grpo."),
    data_path: str | None = typer.Option(None, "--data-path", "--data_path", help="Training data (JSONL)."),
    val_path: str | None = typer.Option(None, "--val-path", "--val_path", help="Held-out data."),
    epochs: int | None = typer.Option(None, "--epochs"),
    batch_size: int | None = typer.Option(None, "--batch-size", "--batch_size"),
    learning_rate: float | None = typer.Option(None, "--learning-rate", "--learning_rate", "--lr"),
    accumulation_steps: int = typer.Option(1, "--accumulation-steps", "--accumulation_steps"),
    max_seq_len: int | None = typer.Option(None, "--max-seq-len", "--max_seq_len"),
    grad_clip: float = typer.Option(1.0, "--grad-clip", "--grad_clip"),
    preset_name: str = typer.Option("tiny", "--preset", help="tiny, minimind2-small, minimind2, minimind2-moe."),
    hidden_size: int | None = typer.Option(None, "--hidden-size", "--hidden_size"),
    num_hidden_layers: int | None = typer.Option(None, "--num-hidden-layers", "--num_hidden_layers"),
    use_moe: bool = typer.Option(False, "--use-moe", "--use_moe"),
    from_weight: str = typer.Option("default", "--from-weight", "--from_weight",
                                    help="Start from out/NAME_<hidden>.safetensors (pretrain, full_sft, ...), "
                                         "a path, or none."),
    save_dir: str = typer.Option("out", "--save-dir", "--save_dir", "--out-dir", "--out_dir"),
    tokenizer: str | None = typer.Option(None, "--tokenizer", help="Tokenizer folder (default: shipped)."),
    max_steps: int | None = typer.Option(None, "--max-steps", "--max_steps"),
    time_budget: float = typer.Option(-1, "--time-budget", "--time_budget",
                                      help="Seconds; the LR schedule ends with it (-1: stage default, 0: none)."),
    eval_every: int | None = typer.Option(None, "--eval-every", "--eval_every",
                                          help="Steps between held-out evaluations (default: every 1,600 rows)."),
    save_every: int = typer.Option(TrainConfig.save_every, "--save-every", "--save_every"),
    log_every: int = typer.Option(TrainConfig.log_every, "--log-every", "--log_every",
                                  help="Steps between rows of metrics.jsonl."),
    seed: int = typer.Option(TrainConfig.seed, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, mps."),
    precision: str | None = typer.Option(None, "--precision", "--dtype",
                                         help="auto, fp32 or bf16 (default: $MINIMIND_PRECISION, else auto)."),
    compile_: bool = typer.Option(False, "--compile", help="torch.compile the model (opt-in)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the stopped run exactly."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier run of the same name."),
    run_name: str | None = typer.Option(None, "--run-name", "--run_name",
                                        help="Name of the weights and run folder (default: the stage's, "
                                             "e.g. pretrain -> out/pretrain_<hidden>)."),
    skip_bad: bool = typer.Option(False, "--skip-bad", "--skip_bad", help="Skip and count broken data lines."),
    nproc: int = typer.Option(1, "--nproc", help="Processes to launch with torchrun (DDP)."),
    lora_rank: int = typer.Option(TrainConfig.lora_rank, "--lora-rank", "--lora_rank"),
    dpo_beta: float = typer.Option(TrainConfig.dpo_beta, "--dpo-beta", "--beta"),
    teacher_weight: str = typer.Option(TrainConfig.teacher_weight, "--teacher-weight", "--teacher_weight"),
    num_generations: int = typer.Option(TrainConfig.grpo_group, "--num-generations", "--num_generations",
                                        help="GRPO: answers sampled per prompt (the group)."),
    kl_beta: float = typer.Option(TrainConfig.grpo_beta, "--kl-beta", "--kl_beta",
                                  help="GRPO: weight of the KL to the reference."),
    rollout_temperature: float = typer.Option(TrainConfig.grpo_temperature,
                                              "--rollout-temperature", "--rollout_temperature",
                                              help="GRPO: sampling temperature of the group's answers."),
    quick: bool = typer.Option(False, "--quick", help="A short smoke run (used by `minimind path --quick`)."),
) -> None:
    """Train a MiniMind model. With no flags: the embedded data, the tiny preset, minutes on a CPU."""
    from minimind_notes.errors import UsageError

    if nproc < 1:
        raise UsageError(f"--nproc {nproc} is out of range: it must be >= 1")
    cfg = TrainConfig(
        stage=stage, data_path=data_path, val_path=val_path, epochs=epochs, batch_size=batch_size,
        learning_rate=learning_rate, accumulation_steps=accumulation_steps, max_seq_len=max_seq_len,
        grad_clip=grad_clip, preset=preset_name, hidden_size=hidden_size, num_hidden_layers=num_hidden_layers,
        use_moe=use_moe, from_weight=from_weight, save_dir=save_dir, tokenizer=tokenizer,
        max_steps=max_steps if not quick else (max_steps or 20), time_budget=time_budget if not quick else 0,
        eval_every=eval_every, save_every=save_every, log_every=log_every, seed=seed, device=device,
        precision=precision, compile=compile_,
        resume=resume, skip_bad=skip_bad, lora_rank=lora_rank, dpo_beta=dpo_beta,
        teacher_weight=teacher_weight, grpo_group=num_generations, grpo_beta=kl_beta,
        grpo_temperature=rollout_temperature, overwrite=overwrite, run_name=run_name)
    if quick:
        cfg.eval_batches = 4
    if nproc > 1:
        launch_torchrun(nproc)
        return
    from minimind_notes.train.loop import format_metrics
    from minimind_notes.train.loop import train as run_training

    summary = run_training(cfg, echo=console.print, display=ProgressBar)
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
