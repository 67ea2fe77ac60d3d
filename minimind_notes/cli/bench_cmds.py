"""`minimind bench ...`: speed figures measured on this machine, in one run."""

from __future__ import annotations

import json

import typer

from minimind_notes.cli.console import console
from minimind_notes.cli.shared import group

bench_app = group("Speed benchmarks (figures, not tests).")
PRESETS = typer.Option("tiny,minimind2-small", help="Comma-separated preset names.")
SEQ_LEN = typer.Option(256, min=2, help="Tokens per sequence.")
DEVICE = typer.Option("auto", help="auto, cpu, cuda, mps.")


def preset_names(presets: str) -> list[str]:
    """The --presets list, each name checked before anything is measured."""
    from minimind_notes.errors import UsageError
    from minimind_notes.model.config import PRESETS, preset

    names = [p.strip() for p in presets.split(",") if p.strip()]
    if not names:
        raise UsageError(f"--presets {presets!r} names no preset", hint=f"comma-separated, from {', '.join(PRESETS)}")
    for name in names:
        preset(name)  # an unknown name stops here, with the known ones
    return names


@bench_app.command("model")
def bench_model_cmd(
    presets: str = PRESETS,
    batch: int = typer.Option(4, min=1, help="Sequences per training step."),
    seq_len: int = SEQ_LEN,
    steps: int = typer.Option(5, min=1, help="Timed training steps (median reported)."),
    new_tokens: int = typer.Option(256, min=1, help="Tokens generated for the KV-cache comparison."),
    prompt_tokens: int = typer.Option(42, min=1, help="Prompt length for it (42 = a one-line chat question "
                                               "in the ChatML template); a 4-token prompt is also shown."),
    device: str = DEVICE,
    hf: bool = typer.Option(True, help="Also time transformers' LlamaForCausalLM (needs the hf extra)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Training tokens/s vs the matmul peak and vs HF Llama; generation with/without KV cache."""
    import torch
    from rich.table import Table

    from minimind_notes.bench.model_bench import bench_model, matmul_peak
    from minimind_notes.device import autocast_dtype, pick_device
    from minimind_notes.errors import UsageError
    from minimind_notes.model.config import preset

    names = preset_names(presets)
    for name in names:  # each figure is measured within the model's window, never past it
        window = preset(name).max_position_embeddings
        if seq_len > window:
            raise UsageError(f"--seq-len {seq_len} does not fit the {name!r} model's window of {window} positions",
                             hint=f"at most {window}")
        prompt = max(prompt_tokens, 4)  # a 4-token prompt is measured too
        if prompt + new_tokens > window:
            raise UsageError(f"--new-tokens {new_tokens} after a {prompt}-token prompt does not fit the {name!r} "
                             f"model's window of {window} positions",
                             hint=f"at most {window - prompt} new tokens (or a shorter --prompt-tokens)")
    dev = pick_device(device)
    peak = matmul_peak(dev, autocast_dtype(dev) or torch.float32)
    results = []
    for name in names:
        if not as_json:
            console.print(f"Measuring {name} on {dev} ...")
        results.append(bench_model(name, dev, batch, seq_len, steps, new_tokens, hf, peak, prompt_tokens))
    if as_json:
        console.print_json(json.dumps([r.as_dict() for r in results]))
        return
    first = results[0]
    train = Table(title=f"Training step: {dev}, {first.precision}, AdamW {first.optimizer}, "
                        f"batch {batch} x seq {seq_len}, {torch.get_num_threads()} threads")
    for col in ("preset", "params", "tok/s", "GFLOP/s", "of matmul peak", "HF Llama tok/s", "vs HF",
                "plain loss tok/s", "plain vs HF"):
        train.add_column(col, justify="right")
    fp32 = Table(title="The same step in fp32, beside")  # shown when the step above ran in bf16
    for col in ("preset", "tok/s", "HF Llama tok/s", "vs HF"):
        fp32.add_column(col, justify="right")
    gen = Table(title=f"Greedy generation of {new_tokens} tokens, with and without the KV cache")
    for col in ("preset", f"cache tok/s ({prompt_tokens}-token prompt)", "no cache", "speed-up",
                "speed-up from 4 tokens"):
        gen.add_column(col, justify="right")
    for r in results:
        train.add_row(
            r.preset, f"{r.params / 1e6:.1f}M", f"{r.train_tokens_per_s:,.0f}",
            f"{r.achieved_gflops:.0f}", f"{r.peak_fraction:.0%}",
            f"{r.hf_train_tokens_per_s:,.0f}" if r.hf_train_tokens_per_s else "-",
            f"{r.vs_hf:.2f}x" if r.vs_hf else "-", f"{r.plain_loss_tokens_per_s:,.0f}",
            f"{r.plain_loss_vs_hf:.2f}x" if r.plain_loss_vs_hf else "-")
        if r.train_tokens_per_s_fp32:
            fp32.add_row(r.preset, f"{r.train_tokens_per_s_fp32:,.0f}",
                         f"{r.hf_train_tokens_per_s_fp32:,.0f}" if r.hf_train_tokens_per_s_fp32 else "-",
                         f"{r.vs_hf_fp32:.2f}x" if r.vs_hf_fp32 else "-")
        gen.add_row(r.preset, f"{r.gen_tokens_per_s_cache:,.1f}", f"{r.gen_tokens_per_s_no_cache:,.1f}",
                    f"{r.cache_speedup:.1f}x", f"{r.cache_speedup_short_prompt:.1f}x")
    console.print(train)
    if fp32.row_count:
        console.print(fp32)
    console.print(gen)
    console.print(f"Matmul peak measured in this run: {peak:.0f} GFLOP/s "
                  f"({first.precision.split()[0]}). Achieved = tokens/s x (6 x params + 12 x layers x "
                  "hidden x seq). tok/s is the trainer's step, its loss fused with the lm_head (model/loss.py); "
                  "'plain loss' is the same step with full logits and a float32 cross-entropy, as transformers' "
                  f"Llama computes its loss. Generation: greedy, {new_tokens} new tokens after a {prompt_tokens}-token "
                  "prompt (and after 4 tokens, where the cache saves least). Both models run the same weights, "
                  "precision, SDPA kernel and batch (in bf16 on a CPU ours runs that kernel in float32, faster there: "
                  "model/attention.py's causal_sdpa); a ratio that differs much between the bf16 and fp32 columns is "
                  "a slow path of one side in that precision. Speeds drift on a shared machine; with 2 threads "
                  "on a busy one, OpenMP waits dominate small ops: compare with OMP_NUM_THREADS=1.")


@bench_app.command("decode")
def bench_decode_cmd(
    presets: str = typer.Option("minimind2-small", help="Comma-separated preset names."),
    new_tokens: int = typer.Option(256, min=1, help="Tokens generated greedily."),
    prompt_tokens: int = typer.Option(42, min=1, help="Prompt length (42 = a one-line chat question in the "
                                               "ChatML template)."),
    repeats: int = typer.Option(3, min=1, help="Interleaved timed runs of each contender (median reported)."),
    device: str = DEVICE,
    hf: bool = typer.Option(True, help="Also time transformers' generate on the same weights (needs the hf extra)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Greedy decoding tokens/s: preallocated KV cache vs the concatenated one vs transformers' generate."""
    import torch
    from rich.table import Table

    from minimind_notes.bench.model_bench import bench_decode
    from minimind_notes.device import pick_device
    from minimind_notes.errors import UsageError
    from minimind_notes.model.config import preset

    names = preset_names(presets)
    for name in names:
        window = preset(name).max_position_embeddings
        if prompt_tokens + new_tokens > window:
            raise UsageError(f"--new-tokens {new_tokens} after a {prompt_tokens}-token prompt does not fit the "
                             f"{name!r} model's window of {window} positions",
                             hint=f"at most {window - prompt_tokens} new tokens (or a shorter --prompt-tokens)")
    dev = pick_device(device)
    results = []
    for name in names:
        if not as_json:
            console.print(f"Decoding with {name} on {dev} ...")
        results.append(bench_decode(name, dev, new_tokens, prompt_tokens, repeats, hf))
    if as_json:
        console.print_json(json.dumps([r.as_dict() for r in results]))
        return
    table = Table(title=f"Greedy decoding of {new_tokens} tokens after a {prompt_tokens}-token prompt: {dev}, fp32 "
                        f"weights, {torch.get_num_threads()} threads, median of {repeats}")
    for col in ("preset", "KV buffer tok/s", "torch.cat cache", "buffer speed-up", "HF generate", "vs HF",
                "same tokens as HF"):
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(r.preset, f"{r.tokens_per_s:,.1f}", f"{r.concatenated_cache_tokens_per_s:,.1f}",
                      f"{r.tokens_per_s / r.concatenated_cache_tokens_per_s:.2f}x",
                      f"{r.hf_tokens_per_s:,.1f}" if r.hf_tokens_per_s else "-", f"{r.vs_hf:.2f}x" if r.vs_hf else "-",
                      {True: "yes", False: "no", None: "-"}[r.same_tokens_as_hf])
    console.print(table)
    console.print("Decoding one token reads every weight once: it is bound by memory bandwidth, not by the "
                  "matmul peak. Speeds drift on a shared machine; the contenders run interleaved.")


@bench_app.command("budget")
def bench_budget_cmd(
    data: str = typer.Option("", help="Text or JSONL to train on: first 90% trains, last 10% is held out "
                                      "(default: the embedded pretrain.jsonl)."),
    budgets: str = typer.Option("30,60,120", help="Comma-separated time budgets in seconds."),
    device: str = DEVICE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Held-out bits per byte of `train pretrain --data_path FILE --time-budget S` for each budget S."""
    import tempfile
    from pathlib import Path

    from rich.table import Table

    from minimind_notes.bench.budget_bench import bench_budget
    from minimind_notes.content import data_dir
    from minimind_notes.errors import UsageError

    try:
        seconds = [float(b) for b in budgets.split(",") if b.strip()]
    except ValueError:
        seconds = []
    if not seconds or any(not 0 < s < float("inf") for s in seconds):
        raise UsageError(f"--budgets {budgets!r} is not a list of positive seconds", hint="e.g. --budgets 30,60,120")
    source = Path(data) if data else data_dir() / "pretrain.jsonl"
    if not source.is_file():
        raise UsageError(f"--data {source}: no such file")
    with tempfile.TemporaryDirectory() as tmp:
        results = bench_budget(source, seconds, Path(tmp), device, (lambda *a: None) if as_json else console.print)
    if as_json:
        console.print_json(json.dumps([r.as_dict() for r in results]))
        return
    table = Table(title=f"{source.name}: first 90% trains, last 10% held out; --preset auto unless sized")
    for col in ("budget s", "whole run s", "held-out bits/byte", "model", "params", "tokens seen"):
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(f"{r.budget_s:g}", f"{r.total_s:.1f}", f"{r.val_bpb:.3f}", f"{r.hidden} x {r.layers}",
                      f"{r.params / 1e6:.2f}M", f"{r.tokens:,}")
    console.print(table)


@bench_app.command("gpu")
def bench_gpu_cmd(
    steps: int = typer.Option(200, min=1, help="Pretraining steps of minimind2-small."),
) -> None:
    """On a CUDA GPU: bf16, flash SDPA, fused AdamW, bench model, decoding, N pretrain steps, a DDP step."""
    from minimind_notes.bench.gpu_check import gpu_check

    gpu_check(console.print, steps)


@bench_app.command("data")
def bench_data_cmd(
    data: str = typer.Option("", help="Data file (default: the stage's embedded one). For sft/dpo, "
                             "`python -m tools.make_sft_file FILE --size 1GB [--dpo]` writes one of any size."),
    stage: str = typer.Option("pretrain", "--stage", help="pretrain (packed text), sft or dpo (conversations)."),
    max_seq_len: int = typer.Option(512, "--max-seq-len", "--max_seq_len", min=2, help="sft/dpo: tokens kept a row."),
    tokenizer: str = typer.Option("", help="Tokenizer folder (default: the shipped one)."),
    repeats: int = typer.Option(3, min=1, help="pretrain: runs; the best is reported."),
    as_json: bool = typer.Option(False, "--json", help="sft/dpo: print JSON instead of text."),
) -> None:
    """Tokens/s of `minimind data prepare`; for sft/dpo also its peak memory and the start of `minimind train`."""
    from importlib.metadata import version
    from pathlib import Path

    from minimind_notes.content import data_dir
    from minimind_notes.errors import UsageError
    from minimind_notes.train.config import DEFAULTS

    if stage not in ("pretrain", "sft", "dpo"):
        raise UsageError(f"--stage {stage!r} is not measured here", hint="pretrain, sft or dpo")
    source = Path(data) if data else data_dir() / DEFAULTS[stage].data
    if stage != "pretrain":
        from dataclasses import asdict

        from minimind_notes.bench.data_bench import bench_chat_data
        from minimind_notes.data.jsonl import require_file

        require_file(source)
        if not as_json:
            console.print(f"Preparing {source} in a fresh cache, then starting `minimind train {stage}` with it ...")
        c = bench_chat_data(source, stage, max_seq_len, tokenizer or None)
        if as_json:
            console.print_json(json.dumps({**asdict(c), "tokens_per_s": c.tokens_per_s,
                                           "tokens_per_cpu_s": c.tokens_per_cpu_s}))
            return
        console.print(f"{source.name}: {c.source_mb:,.1f} MB, {c.rows:,} rows -> {c.tokens:,} tokens "
                      f"(max_seq_len {max_seq_len}: {c.truncated:,} rows cut)")
        console.print(f"  data prepare --stage {stage}: {c.build_s:.1f} s = [bold]{c.tokens_per_s / 1e6:.2f}M tokens/s"
                      f"[/] ({c.workers} encoding process(es)); CPU {c.build_cpu_s:.1f} s = "
                      f"{c.tokens_per_cpu_s / 1e6:.2f}M tokens per CPU-second")
        console.print(f"  peak memory: {c.peak_memory_mb:,.0f} MB (the command and its workers, proportional set "
                      "sizes added up)")
        console.print(f"  train {stage} with the cache: {c.first_step_s:.1f} s (CPU {c.first_step_cpu_s:.1f} s) from "
                      "the command to the end of step 1 (start-up, cache check, model, held-out batch, one step, save)")
        console.print("Wall times drift on a busy machine; the CPU time does not.")
        return
    from minimind_notes.bench.data_bench import bench_data
    from minimind_notes.data.tokenizer import MiniMindTokenizer

    tok = MiniMindTokenizer.from_dir(tokenizer or None)
    r = bench_data(source, tok, repeats)
    console.print(f"{source.name}: {r.source_mb:.1f} MB, {r.documents:,} documents -> {r.tokens:,} tokens "
                  f"(best of {repeats} runs)")
    console.print(f"  data prepare: {r.prepare_s:.2f} s = [bold]{r.prepare_tokens_per_s / 1e6:.2f}M tokens/s[/] "
                  f"({r.source_mb / r.prepare_s:.1f} MB/s)")
    console.print(f"  its encoder alone, {r.engine}: {r.encode_s:.2f} s = {r.encode_tokens_per_s / 1e6:.2f}M "
                  f"tokens/s (prepare: {r.prepare_tokens_per_s / r.encode_tokens_per_s:.0%} of it)")
    if not r.engine.startswith("tokenizers"):
        console.print(f"  tokenizers {version('tokenizers')}, same ids: {r.hf_encode_s:.2f} s = "
                      f"{r.hf_encode_tokens_per_s / 1e6:.2f}M tokens/s")


@bench_app.command("train")
def bench_train_cmd(
    presets: str = PRESETS,
    batch: int = typer.Option(4, min=1, help="Sequences per step."),
    seq_len: int = SEQ_LEN,
    steps: int = typer.Option(6, min=1, help="Timed steps (after 2 warm-up steps)."),
    device: str = DEVICE,
) -> None:
    """Tokens/s of the training loop vs a bare forward/backward/AdamW step of the same model."""
    import tempfile

    from rich.table import Table

    from minimind_notes.bench.train_bench import bench_train

    names = preset_names(presets)
    table = Table(title=f"bench train: batch {batch} x seq {seq_len}, embedded corpus")
    for col in ("preset", "loop tok/s", "bare step tok/s", "loop overhead"):
        table.add_column(col, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            console.print(f"Measuring {name} ...")
            loop, bare = bench_train(name, batch, seq_len, steps, device, tmp)
            table.add_row(name, f"{loop:,.0f}", f"{bare:,.0f}", f"{1 - loop / bare:+.1%}")
    console.print(table)
