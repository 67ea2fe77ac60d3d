"""`minimind bench budget`: held-out bits per byte that `minimind train pretrain --data_path FILE
--time-budget S` reaches on this machine, for several budgets S, timing the whole run (the `--preset
auto` probe, tokenizing, evaluations, saving) against S.

The file is split by bytes at a line end: the first 90% trains, the last 10% is held out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class BudgetResult:
    budget_s: float
    total_s: float  # the whole run: probe, data, training, evaluations, save
    val_bpb: float  # over the whole held-out split
    hidden: int
    layers: int
    params: int
    tokens: int

    def as_dict(self) -> dict:
        return asdict(self)


def split_train_val(source: Path, workdir: Path, held_out: float = 0.1) -> tuple[Path, Path]:
    """The first (1 - held_out) of the file's bytes, cut at a line end, and the rest; same suffix."""
    data = source.read_bytes()
    cut = data.rfind(b"\n", 0, int(len(data) * (1 - held_out))) + 1
    if cut <= 0 or cut >= len(data):
        from minimind_notes.errors import MiniMindError

        raise MiniMindError(f"{source}: cannot split it into 90% training and 10% held-out lines",
                            hint="give a file of many lines")
    train, val = workdir / f"train{source.suffix}", workdir / f"val{source.suffix}"
    train.write_bytes(data[:cut])
    val.write_bytes(data[cut:])
    return train, val


def bench_budget(source: Path, budgets: list[float], workdir: Path, device: str = "auto",
                 echo: Callable[[str], object] = print) -> list[BudgetResult]:
    from minimind_notes.data.tokenizer import MiniMindTokenizer
    from minimind_notes.evaluate import perplexity
    from minimind_notes.model import load_model
    from minimind_notes.train.auto_preset import resolve_auto
    from minimind_notes.train.config import TrainConfig
    from minimind_notes.train.loop import train

    train_path, val_path = split_train_val(source, workdir)
    results = []
    for budget in budgets:
        start = time.perf_counter()
        cfg = TrainConfig(stage="pretrain", data_path=str(train_path), val_path=str(val_path), time_budget=budget,
                          save_dir=str(workdir / "out"), run_name=f"budget{budget:g}", overwrite=True,
                          device=device, save_every=0)
        if cfg.preset == "auto":  # as `minimind train` does
            cfg = resolve_auto(cfg, echo)
        summary = train(cfg, echo=lambda *a: None)
        total_s = time.perf_counter() - start
        # Scored after the clock stops, on every window of the held-out split (the run's own evaluations
        # are sized to fit its budget).
        held_out = perplexity(load_model(summary.weights), MiniMindTokenizer.from_dir(cfg.tokenizer), val_path,
                              cfg.max_seq_len, max_windows=10**6)
        results.append(BudgetResult(budget, total_s, held_out["val_bpb"],
                                    int(cfg.hidden_size or 0), int(cfg.num_hidden_layers or 0), summary.params,
                                    summary.tokens))
        echo(f"{budget:g} s budget: {results[-1].total_s:.1f} s in all, held-out {results[-1].val_bpb:.3f} bits/byte")
    return results
