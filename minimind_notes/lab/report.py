"""Render an experiment's findings and tables in the terminal with rich."""

from __future__ import annotations

from minimind_notes.i18n import pick
from minimind_notes.lab.experiment import ExperimentResult

HEAD = {
    "findings": {"en": "Findings (each checked against the measured numbers)",
                 "zh": "结论(每条都用实测数值检验)"},
    "check": {"en": "check", "zh": "检验"},
    "finding": {"en": "finding", "zh": "结论"},
    "plots": {"en": "Plots", "zh": "图表"},
    "summary": {"en": "{n_pass}/{n} checks passed in {seconds:.1f} s (precision {precision}); numbers in {path}",
                "zh": "{n_pass}/{n} 项检验通过,用时 {seconds:.1f} 秒(精度 {precision});数据见 {path}"},
}


def print_result(result: ExperimentResult, lang: str = "en", console=None) -> None:  # noqa: ANN001
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
    table = Table(title=pick(HEAD["findings"], lang), show_lines=False, expand=False)
    table.add_column(pick(HEAD["check"], lang), justify="center")
    table.add_column(pick(HEAD["finding"], lang))
    for f in result.findings:
        table.add_row("[green]✓[/]" if f.passed else "[red]✗[/]", pick(f.text, lang))
    console.print(table)
    if result.plots:
        console.print(pick(HEAD["plots"], lang) + ": " + ", ".join(result.plots))
    n_pass = sum(f.passed for f in result.findings)
    path = f"{result.out_dir}/metrics.json"
    console.print(pick(HEAD["summary"], lang).format(
        n_pass=n_pass, n=len(result.findings), seconds=result.seconds, precision=result.precision, path=path))
