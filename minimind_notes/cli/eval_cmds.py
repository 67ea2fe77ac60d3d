"""`minimind eval ppl|mc` and `minimind plot`."""

from __future__ import annotations

from pathlib import Path

import typer

from minimind_notes.cli.console import console, note
from minimind_notes.cli.shared import group

eval_app = group("Evaluate a model: perplexity / bits per byte, multiple choice.")
WEIGHTS = typer.Option("full_sft", "--weights", help="Stage name (pretrain, full_sft, ...) or checkpoint path.")
TOKENIZER = typer.Option(None, "--tokenizer", help="Tokenizer folder (default: shipped).")


@eval_app.command("ppl")
def ppl(
    weights: str = WEIGHTS, tokenizer: str | None = TOKENIZER,
    data: str | None = typer.Option(None, "--data", help="Pretraining-format JSONL or text "
                                    "(default: the embedded held-out split)."),
    seq_len: int = typer.Option(256, "--max-seq-len", min=1, help="Tokens per window."),
    max_windows: int = typer.Option(200, "--max-windows", min=1),
    save_dir: str = typer.Option("out", "--save-dir"),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip and count broken lines."),
) -> None:
    """Held-out loss, perplexity and bits per byte (comparable across tokenizers)."""
    from minimind_notes.chat import load_for_inference
    from minimind_notes.content import data_dir
    from minimind_notes.errors import UsageError
    from minimind_notes.evaluate import perplexity

    model, tok, path = load_for_inference(weights, tokenizer, save_dir=save_dir, say=note)
    positions = model.config.max_position_embeddings
    if seq_len + 1 > positions:  # past them the figures would measure RoPE extrapolation, not the model
        raise UsageError(f"--max-seq-len {seq_len} does not fit {path}: a window is {seq_len + 1} tokens "
                         f"(the inputs and the next token of each) and the model has {positions} positions",
                         hint=f"at most {positions - 1}")
    source = data or str(data_dir() / "pretrain_val.jsonl")
    m = perplexity(model, tok, source, seq_len, max_windows, skip_bad=skip_bad)
    console.print(f"{path} on {source}: {m['tokens']:,} tokens, loss {m['val_loss']:.4f} nats/token, "
                  f"perplexity [bold]{m['val_ppl']:.3f}[/], {m['val_bpb']:.4f} bits per byte")
    if m["skipped_lines"]:
        console.print(f"[yellow]skipped {m['skipped_lines']} bad line(s) (--skip-bad)[/]")


@eval_app.command("mc")
def mc(
    weights: str = WEIGHTS, tokenizer: str | None = TOKENIZER,
    data: str | None = typer.Option(None, "--data", help="C-Eval/MMLU rows (JSONL or CSV; default: the embedded "
                                    "eval set), or with --benchmark the benchmark's folder (default: dataset/NAME)."),
    errors: int = typer.Option(0, "--errors", min=0, help="List up to N questions the model got wrong."),
    save_dir: str = typer.Option("out", "--save-dir"),
    benchmark: str | None = typer.Option(None, "--benchmark", help="ceval, cmmlu or mmlu: the published files "
                                         "(`minimind data download NAME`), prompts and scoring."),
    shots: int = typer.Option(0, "--shots", min=0, max=5, help="--benchmark: solved dev questions in the prompt "
                              "(0 or 5, as the benchmarks report)."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="--benchmark: at most N questions per subject."),
    as_json: bool = typer.Option(False, "--json", help="--benchmark: print the result as JSON."),
) -> None:
    """Multiple-choice accuracy, per subject: by comparing the likelihood of each option, or with --benchmark
    on C-Eval, CMMLU or MMLU as published, by the next-token logits of A, B, C and D."""

    from minimind_notes.chat import is_chat_model, load_for_inference
    from minimind_notes.content import data_dir
    from minimind_notes.evaluate import BENCHMARKS, multiple_choice, read_mc

    if benchmark is not None and benchmark not in BENCHMARKS:
        from minimind_notes.errors import UsageError

        raise UsageError(f"--benchmark {benchmark}: unknown", hint=f"use one of {', '.join(BENCHMARKS)}")
    model, tok, path = load_for_inference(weights, tokenizer, save_dir=save_dir, say=note)
    if benchmark is not None:
        show_benchmark(model, tok, path, benchmark, data or f"dataset/{benchmark}", shots, limit, as_json)
        return
    source = data or str(data_dir() / "eval_mc.jsonl")
    result = multiple_choice(model, tok, read_mc(source), chat=is_chat_model(path))
    show_subjects(result.by_subject, f"{path.name} on {Path(source).name}: accuracy {result.accuracy:.1%} "
                                     "(chance 25%)")
    for q, predicted in result.wrong[:errors]:
        console.print(f"[red]✗[/] {q.where}: {q.question} -> model {predicted}: {q.options[predicted]!r}; "
                      f"answer {q.answer}: {q.options[q.answer]!r}", markup=True)


def show_subjects(by_subject: dict[str, tuple[int, int]], summary: str) -> None:
    """The summary line (never wrapped into a narrow table's title), then accuracy per subject."""
    from rich.table import Table

    table = Table()
    for col in ("subject", "correct", "total", "accuracy"):
        table.add_column(col, justify="right")
    for subject, (c, n) in by_subject.items():
        table.add_row(subject, str(c), str(n), f"{c / n:.1%}")
    console.print(summary, markup=False, soft_wrap=True)
    console.print(table)


def plot(
    run_dirs: list[Path] = typer.Argument(..., help="Run folders (out/runs/NAME) with metrics.jsonl."),
    out: Path = typer.Option(Path("loss_curves.png"), "--out", help="Image to write (.png, .pdf, .svg, ...)."),
) -> None:
    """Draw the loss curves of one or several runs (train and held-out) into an image (PNG by default)."""
    import matplotlib

    from minimind_notes.errors import MiniMindError, UsageError
    from minimind_notes.fileio import check_writable_folder

    if out.is_dir():
        raise MiniMindError(f"--out {out} is a folder", hint=f"name the PNG to write, e.g. --out {out / 'loss.png'}")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()  # what savefig can write, by extension
    ext = out.suffix.lower().lstrip(".")
    if ext not in formats:
        what = f"'.{ext}' is not an image format matplotlib writes" if ext else "no extension to say the image format"
        raise UsageError(f"--out {out}: {what}", hint=f"end it in one of: .{', .'.join(sorted(formats))}")
    check_writable_folder(out.parent, hint="pass --out a path in a folder you can write to")

    fig, ax = plt.subplots(figsize=(8, 5))
    for run in run_dirs:
        path = run / "metrics.jsonl" if run.is_dir() else run
        if not path.is_file():
            raise MiniMindError(f"no metrics.jsonl in {run}", hint="pass a folder under out/runs/")
        train, val = curve(path, "loss"), curve(path, "val_loss")
        if not train and not val:
            raise MiniMindError(f"{path} has no loss rows", hint="pass the metrics.jsonl of a training run")
        name = run.name if run.is_dir() else run.parent.name
        line, = ax.plot(*zip(*(train or val), strict=True), label=f"{name} {'train' if train else 'held-out'}")
        if train and val:
            ax.plot(*zip(*val, strict=True), "o--", color=line.get_color(), label=f"{name} held-out")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    console.print(f"Wrote {out}")


def curve(path: Path, key: str) -> list[tuple[float, float]]:
    """(step, value) of the metrics rows that have `key`; a row with a non-number stops with its line."""
    from minimind_notes.data.jsonl import DataError, iter_jsonl

    points = []
    for lineno, row in iter_jsonl(path):
        if key in row:
            point = (row.get("step"), row[key])
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in point):
                raise DataError(f"{path}:{lineno}: expected numbers for step and {key}, got {point}")
            points.append(point)
    return points


def show_benchmark(model, tok, path: Path, name: str, folder: str, shots: int, limit: int | None,
                   as_json: bool) -> None:
    """`eval mc --benchmark`: per subject and overall accuracy, chance beside it."""
    import json

    from minimind_notes.evaluate import run_benchmark

    r = run_benchmark(model, tok, name, folder, shots, limit)
    if as_json:
        subjects = {s: {"correct": c, "total": n, "accuracy": c / n} for s, (c, n) in r.by_subject.items()}
        print(json.dumps({"benchmark": name, "weights": str(path), "data": folder, "shots": shots,
                          "accuracy": r.accuracy, "macro_accuracy": r.macro_accuracy, "chance": r.chance,
                          "questions": sum(n for _, n in r.by_subject.values()), "fewer_shots": r.fewer_shots,
                          "truncated": r.truncated, "subjects": subjects}, ensure_ascii=False, indent=2))
        return
    show_subjects(r.by_subject, f"{path.name} on {name} ({shots}-shot): accuracy {r.accuracy:.1%}, mean over "
                                f"subjects {r.macro_accuracy:.1%} (chance {r.chance:.0%})")
    if r.fewer_shots or r.truncated:
        console.print(f"[yellow]{r.fewer_shots} prompt(s) held fewer than {shots} shots and {r.truncated} were cut "
                      f"from the left to fit the model's {model.config.max_position_embeddings} positions[/]")
