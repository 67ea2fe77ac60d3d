"""`minimind bench gpu`: what a CUDA machine gives this project, checked and measured in one run.

bf16 support, whether the flash SDPA kernel runs at minimind2-small's head size, the AdamW
implementation, the model bench (training step vs transformers, decoding), 200 pretraining steps
of minimind2-small through the real Trainer, and a 2-process DDP step (NCCL with one GPU per
process where there are two; else gloo on the CPU, which checks the code path, not the GPU).
Without a CUDA GPU it says so and measures nothing.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch


def flash_sdpa_runs(device: torch.device, head_dim: int = 64) -> bool:
    """True when the flash kernel alone computes a causal bf16 SDPA of this head size."""
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    q = torch.randn(1, 8, 128, head_dim, device=device, dtype=torch.bfloat16)
    try:
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            F.scaled_dot_product_attention(q, q, q, is_causal=True)
        return True
    except RuntimeError:
        return False


def pretrain_steps(device: torch.device, steps: int, save_dir: Path) -> dict[str, float]:
    """`minimind train pretrain --preset minimind2-small --max-steps N` on the embedded data."""
    from minimind_notes.train.config import TrainConfig
    from minimind_notes.train.loop import train

    cfg = TrainConfig(stage="pretrain", preset="minimind2-small", max_steps=steps, time_budget=None,
                      device=str(device), save_dir=str(save_dir), eval_every=0, save_every=0, eval_batches=4)
    start = time.perf_counter()
    summary = train(cfg, echo=lambda *a: None)
    return {"steps": summary.steps, "seconds": time.perf_counter() - start, "tokens_per_s": summary.tokens_per_s,
            "train_loss": summary.train_loss, "val_loss": summary.final_eval.get("val_loss", float("nan"))}


def ddp_step(save_dir: Path) -> tuple[str, int, str]:
    """(where, exit status, last output line) of `minimind train pretrain --nproc 2` for 2 steps."""
    device = "cuda" if torch.cuda.device_count() >= 2 else "cpu"
    cmd = [sys.executable, "-m", "minimind_notes", "train", "pretrain", "--nproc", "2", "--max-steps", "2",
           "--time-budget", "0", "--device", device, "--save-dir", str(save_dir), "--eval-every", "0",
           "--save-every", "0", "--eval-batches", "1", "--run-name", "ddp"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    lines = (done.stdout + done.stderr).strip().splitlines()
    where = "2 GPUs, NCCL" if device == "cuda" else "CPU, gloo (one GPU: NCCL needs one per process)"
    return where, done.returncode, lines[-1] if lines else ""


def gpu_check(echo: Callable[[str], object] = print, steps: int = 200) -> bool:
    """Print what this machine's GPU does with the project; False (nothing run) without CUDA."""
    if not torch.cuda.is_available():
        echo("No CUDA GPU here: nothing to check (torch.cuda.is_available() is False).")
        return False
    from minimind_notes.bench.model_bench import bench_decode, bench_model
    from minimind_notes.device import autocast_dtype, precision_name
    from minimind_notes.train.optim import build_adamw

    device = torch.device("cuda")
    amp = autocast_dtype(device)
    optimizer = build_adamw([torch.nn.Parameter(torch.zeros(1, device=device))], 1e-3, device)[1]
    echo(f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA {torch.version.cuda}: "
         f"{precision_name(amp)}, flash SDPA at head size 64: {'yes' if flash_sdpa_runs(device) else 'no'}, "
         f"AdamW {optimizer}")
    for batch in (4, 32):
        r = bench_model("minimind2-small", device, batch=batch, seq_len=256, steps=10)
        echo(f"bench model minimind2-small, batch {batch} x 256: {r.train_tokens_per_s:,.0f} tokens/s, "
             f"{r.peak_fraction:.0%} of the {r.matmul_peak_gflops:,.0f} GFLOP/s matmul peak, "
             + (f"{r.vs_hf:.2f}x transformers' Llama" if r.vs_hf else "transformers not installed"))
    d = bench_decode("minimind2-small", device)
    echo(f"decode 256 tokens after 42: {d.tokens_per_s:,.0f} tokens/s (torch.cat cache "
         f"{d.concatenated_cache_tokens_per_s:,.0f}" + (f", transformers {d.hf_tokens_per_s:,.0f}" if d.hf_tokens_per_s
                                                         else "") + ")")
    with tempfile.TemporaryDirectory() as tmp:
        p = pretrain_steps(device, steps, Path(tmp))
        echo(f"train pretrain minimind2-small, {p['steps']:.0f} steps: {p['seconds']:.1f} s, "
             f"{p['tokens_per_s']:,.0f} tokens/s, train loss {p['train_loss']:.3f}, held-out {p['val_loss']:.3f}")
        where, status, last = ddp_step(Path(tmp))
        echo(f"DDP, 2 processes on {where}: exit {status}" + (f" ({last})" if status else ""))
    return True
