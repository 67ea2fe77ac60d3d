"""The experiment contract: each experiment file defines `run(ctx)`, which measures,
plots and states findings through an `ExperimentContext`.

A finding is text built from measured numbers plus a check that can fail, its bar declared once:

    ctx.finding("Without normalization the std falls to {std:.3f}", "无归一化时标准差降到 {std:.3f}",
                Bar("std after 10 layers", std, "<", 0.05), std=std)

which both languages show as "... (check: std after 10 layers 0.016 < 0.05)". A property that holds by
construction (a shape, a formula, the library equal to the hand computation) is a `ctx.code_fact`, shown apart.

The runner saves every number and finding to metrics.json beside the plots; `print_result` shows
them in the terminal (the CLI's `minimind run`, or the file run on its own through `main`).
"""

from __future__ import annotations

import importlib.util
import json
import operator
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from minimind_notes.errors import MiniMindError
from minimind_notes.fileio import atomic_write_text
from minimind_notes.i18n import pick

COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass
class Bar:
    """A check against a bar, declared once: `Bar("top weight", 0.95, ">", 0.9)` holds, and renders as
    "top weight 0.95 > 0.9" in every language (label: a str, or {'en': ..., 'zh': ...})."""

    label: str | dict[str, str]
    value: float
    op: str
    bar: float

    def __post_init__(self) -> None:
        if self.op not in COMPARE:
            raise ValueError(f"Bar op must be one of {', '.join(COMPARE)}, got {self.op!r}")
        self.value = _plain(self.value)

    @property
    def passed(self) -> bool:
        return bool(COMPARE[self.op](self.value, self.bar))

    def render(self, lang: str) -> str:
        return f"{pick(self.label, lang) if isinstance(self.label, dict) else self.label} {self.value:.4g} " \
               f"{self.op} {self.bar:.4g}"


CHECK_WORD = {"en": " (check: {})", "zh": "(检验:{})"}
JOIN_WORD = {"en": ", ", "zh": ";"}


@dataclass
class Finding:
    text: dict[str, str]  # {'en': ..., 'zh': ...}, numbers already filled in
    passed: bool
    values: dict[str, Any] = field(default_factory=dict)
    kind: str = "measured"  # or "code": holds by construction, shown apart from what was measured


@dataclass
class ExperimentResult:
    module: str
    experiment: str
    quick: bool
    seed: int
    precision: str  # what the experiment's training ran in: fp32 or bf16 (autocast)
    seconds: float
    findings: list[Finding]
    metrics: dict[str, Any]
    plots: list[str]
    tables: list[dict[str, Any]]
    out_dir: str = ""

    @property
    def passed(self) -> bool:
        return all(f.passed for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def _plain(value: Any) -> Any:
    """Numbers from torch/numpy -> Python floats/ints, for JSON and formatting."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class ExperimentContext:
    """What an experiment runs with. `precision` (fp32 or bf16) is what its training must use:
    pass `precision=ctx.precision` to the lab trainers, so a finding does not depend on the CPU."""

    def __init__(self, module: str, experiment: str, quick: bool = False, seed: int = 42,
                 out_dir: Path | None = None, lang: str = "en",
                 echo: Callable[[str], None] | None = None, precision: str = "fp32") -> None:
        self.module, self.experiment = module, experiment
        self.quick, self.seed, self.lang, self.precision = quick, seed, lang, precision
        self.out_dir = Path(out_dir or Path("minimind-results") / module / experiment)
        self.echo = echo or (lambda text: None)
        self.findings: list[Finding] = []
        self.metrics: dict[str, Any] = {}
        self.plots: list[str] = []
        self.tables: list[dict[str, Any]] = []

    # -- narrative and numbers -------------------------------------------------------
    def log(self, en: str, zh: str | None = None, **values: Any) -> None:
        """A line of explanation for the learner, in their language."""
        values = _plain(values)
        self.echo(pick({"en": en, "zh": zh or en}, self.lang).format(**values))

    def metric(self, name: str, value: Any) -> Any:
        """Record a measured number (or list of numbers) under `name`; returns it as plain Python."""
        self.metrics[name] = _plain(value)
        return self.metrics[name]

    def finding(self, en: str, zh: str, passed: Bar | Sequence[Bar], **values: Any) -> bool:
        """State a conclusion from measured `values`; `passed` is the check that can fail: a `Bar` or a list
        of them, rendered into both texts (a bare bool is refused: its bar would be written by hand, twice)."""
        if not (isinstance(passed, Bar) or isinstance(passed, Sequence) and passed
                and all(isinstance(b, Bar) for b in passed)):
            raise TypeError("ctx.finding's check must be a Bar or a list of Bars")
        return self._state("measured", en, zh, passed, values)

    def code_fact(self, en: str, zh: str, holds: Any, **values: Any) -> bool:
        """A property of the code that holds by construction (a shape, a formula, a mask's zeros, the library
        equal to the hand computation): shown apart from the findings, since no measurement could come out
        otherwise; the tests check it. `holds`: a bool, or Bars as for a finding."""
        return self._state("code", en, zh, holds, values)

    def _state(self, kind: str, en: str, zh: str, check: Any, values: dict[str, Any]) -> bool:
        values = _plain(values)
        text = {"en": en.format(**values), "zh": zh.format(**values)}
        if isinstance(check, Bar) or isinstance(check, Sequence) and check and isinstance(check[0], Bar):
            bars = [check] if isinstance(check, Bar) else list(check)
            for lang in text:
                text[lang] += CHECK_WORD[lang].format(JOIN_WORD[lang].join(b.render(lang) for b in bars))
            values["bars"] = [asdict(b) for b in bars]
            check = all(b.passed for b in bars)
        self.findings.append(Finding(text, bool(check), values, kind=kind))
        return bool(check)

    def table(self, title: dict[str, str] | str, columns: list[str], rows: list[list[Any]]) -> None:
        """A results table: printed by the CLI and kept in metrics.json."""
        self.tables.append({"title": title if isinstance(title, dict) else {"en": title},
                            "columns": columns, "rows": _plain(rows)})

    # -- plots -------------------------------------------------------------------------
    @property
    def plt(self):  # matplotlib.pyplot, imported with the headless backend
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        return plt

    def savefig(self, fig: Any, name: str) -> Path:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / name
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        self.plt.close(fig)
        self.plots.append(str(path))
        return path

    def seed_all(self, offset: int = 0) -> None:
        import random

        import numpy as np
        import torch

        random.seed(self.seed + offset)
        np.random.seed(self.seed + offset)
        torch.manual_seed(self.seed + offset)


def load_run_function(path: Path) -> Callable[[ExperimentContext], Any]:
    """Import an experiment file by path and return its `run`."""
    name = f"minimind_experiment_{path.parent.parent.name}_{path.stem}".replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise MiniMindError(f"cannot load experiment file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    run = getattr(module, "run", None)
    if not callable(run):
        raise MiniMindError(f"{path} defines no run(ctx) function")
    return run


def experiment_precision(precision: str) -> str:
    """fp32 or bf16: `auto` resolved for the CPU, where the lab models train."""
    import torch

    from minimind_notes.device import autocast_dtype

    return "fp32" if autocast_dtype(torch.device("cpu"), precision) is None else "bf16"


def run_experiment(path: Path, module: str, experiment: str, quick: bool = False, seed: int = 42,
                   out_dir: Path | None = None, lang: str = "en",
                   echo: Callable[[str], None] | None = None, precision: str = "fp32") -> ExperimentResult:
    """Run one experiment file and write metrics.json beside its plots. Findings are stated for
    fp32 training unless `precision` asks otherwise ($MINIMIND_PRECISION does not apply here)."""
    import torch

    ctx = ExperimentContext(module, experiment, quick, seed, out_dir, lang, echo, experiment_precision(precision))
    run = load_run_function(path)
    threads = torch.get_num_threads()
    start = time.perf_counter()
    ctx.seed_all()
    try:
        run(ctx)
    finally:
        torch.set_num_threads(threads)
    seconds = round(time.perf_counter() - start, 3)
    result = ExperimentResult(module, experiment, quick, seed, ctx.precision, seconds, ctx.findings, ctx.metrics,
                              ctx.plots, ctx.tables, str(ctx.out_dir))
    if not result.findings:
        raise MiniMindError(f"experiment {module} {experiment} stated no findings")
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(ctx.out_dir / "metrics.json",
                      json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    return result


# -- the report in the terminal -----------------------------------------------------------
HEAD = {
    "findings": {"en": "Findings (each checked against the measured numbers)",
                 "zh": "结论(每条都用实测数值检验)"},
    "code": {"en": "Code facts (true by construction; the tests check them, no measurement could differ)",
             "zh": "代码事实(由构造保证;测试会检查,不是实测得出的结论)"},
    "check": {"en": "check", "zh": "检验"},
    "finding": {"en": "finding", "zh": "结论"},
    "plots": {"en": "Plots", "zh": "图表"},
    "summary": {"en": "{n_pass}/{n} checks passed in {seconds:.1f} s (precision {precision}); numbers in {path}",
                "zh": "{n_pass}/{n} 项检验通过,用时 {seconds:.1f} 秒(精度 {precision});数据见 {path}"},
}


def print_result(result: ExperimentResult, lang: str = "en", console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console(highlight=False)
    for t in result.tables:
        table = Table(title=pick(t["title"], lang))
        for col in t["columns"]:
            table.add_column(str(col), justify="right")
        for row in t["rows"]:
            table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
        console.print(table)
    for kind, head in (("code", "code"), ("measured", "findings")):
        shown = [f for f in result.findings if f.kind == kind]
        if not shown:
            continue
        table = Table(title=pick(HEAD[head], lang), show_lines=False, expand=False)
        table.add_column(pick(HEAD["check"], lang), justify="center")
        table.add_column(pick(HEAD["finding"], lang))
        for f in shown:
            table.add_row("[green]✓[/]" if f.passed else "[red]✗[/]", pick(f.text, lang))
        console.print(table)
    if result.plots:
        console.print(pick(HEAD["plots"], lang) + ": " + ", ".join(result.plots))
    n_pass = sum(f.passed for f in result.findings)
    path = f"{result.out_dir}/metrics.json"
    console.print(pick(HEAD["summary"], lang).format(
        n_pass=n_pass, n=len(result.findings), seconds=result.seconds, precision=result.precision, path=path))


def main(file: str) -> None:
    """Run an experiment file on its own: `python exp1_gradient_vanishing.py [--quick]`."""
    import argparse

    from minimind_notes.i18n import resolve_lang

    path = Path(file).resolve()
    parser = argparse.ArgumentParser(description=f"Run {path.name}")
    parser.add_argument("--quick", action="store_true", help="smaller, faster settings")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "auto"),
                        help="what the experiment's training runs in (default fp32)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--lang", default=None, help="en or zh (default: MINIMIND_LANG or en)")
    args = parser.parse_args()
    module = path.parent.parent.name.split("-", 1)[-1]
    lang = resolve_lang(args.lang)
    result = run_experiment(path, module, path.stem.split("_")[0], args.quick, args.seed, args.out,
                            lang, echo=print, precision=args.precision)
    print_result(result, lang)
    sys.exit(0 if result.passed else 1)
