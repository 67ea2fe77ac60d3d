"""`minimind doctor`: what this machine has, and what to fix, in one table."""

from __future__ import annotations

import typer

from minimind_notes.cli.console import console


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def doctor(
    precision: str | None = typer.Option(None, "--precision", "--dtype",
                                         help="Check this precision instead of $MINIMIND_PRECISION / auto."),
) -> None:
    """Python, torch and package versions, device, threads, precision and bf16 support, disk, and what to fix."""
    import os
    import platform
    import shutil
    import sys

    import torch
    from rich.table import Table

    from minimind_notes.content import content_root, home_dir
    from minimind_notes.curriculum.progress import Progress
    from minimind_notes.device import (
        PRECISION_ENV,
        autocast_dtype,
        cpu_has_fast_bf16,
        pick_device,
        precision_name,
        requested_precision,
    )
    from minimind_notes.errors import UsageError

    if precision:
        requested_precision(precision)  # a bad --precision is a usage error (exit 2), as in `minimind train`
    rows: list[tuple[str, str, str]] = []  # (what, value, status/fix)
    ok = "[green]ok[/]"
    py = platform.python_version()
    rows.append(("Python", py, ok if sys.version_info >= (3, 10) else "[red]needs >= 3.10[/]"))
    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU build"
    torch_ok = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2]) >= (2, 4)
    rows.append(("torch", f"{torch.__version__} ({build})", ok if torch_ok else "[red]upgrade to >= 2.4[/]"))
    for pkg in ("numpy", "tokenizers", "tiktoken", "safetensors", "typer", "rich", "matplotlib", "pyyaml", "requests"):
        v = _version(pkg)
        rows.append((pkg, v or "missing", ok if v else f"[red]pip install {pkg}[/]"))
    v = _version("transformers")
    rows.append(("transformers (optional)", v or "not installed",
                 ok if v else "optional: pip install -e '.[hf]' for export tests and HF comparisons"))
    missing = [pkg for pkg in ("fastapi", "uvicorn") if not _version(pkg)]
    rows.append(("fastapi, uvicorn (optional)", f"{', '.join(missing)} not installed" if missing else "installed",
                 "optional: pip install -e '.[serve]' for `minimind serve`" if missing else ok))
    device = pick_device()
    detail = str(device)
    if device.type == "cuda":
        detail += f": {torch.cuda.get_device_name(0)} x {torch.cuda.device_count()}"
    rows.append(("device (auto)", detail, ok if device.type != "cpu" else
                 "ok: CPU (the quick and systematic paths need nothing more)"))
    rows.append(("CPU threads", f"{torch.get_num_threads()} of {os.cpu_count()} cores", ok))
    native_bf16 = cpu_has_fast_bf16()
    rows.append(("CPU native bf16", "yes (AVX-512-BF16 / AMX)" if native_bf16 else "no",
                 ok if native_bf16 else "ok: auto trains in fp32 here (never fp16 on CPU); bf16 works but is slow"))
    source = "--precision" if precision else f"${PRECISION_ENV}" if os.environ.get(PRECISION_ENV) else "default"
    requested = precision or os.environ.get(PRECISION_ENV) or "auto"
    try:
        amp = autocast_dtype(device, precision)
        rows.append(("training precision", f"{requested} ({source}) -> {precision_name(amp)} on {device}", ok))
    except UsageError as e:  # a bad $MINIMIND_PRECISION, or bf16 this device lacks: a row to fix
        rows.append(("training precision", f"{requested} ({source})", f"[red]{e.message}: {e.hint}[/]"))
    free = shutil.disk_usage(".").free / 2**30
    rows.append(("free disk (here)", f"{free:.1f} GiB", ok if free > 2 else
                 "[yellow]low: the real MiniMind datasets need 2-30 GiB[/]"))
    try:
        rows.append(("curriculum", str(content_root()), ok))
    except Exception as e:  # doctor reports, never crashes
        rows.append(("curriculum", "not found", f"[red]{e}[/]"))
    progress = Progress.shared()
    rows.append(("progress file", str(home_dir() / "progress.json"),
                 f"[yellow]{progress.warning}[/]" if progress.warning else ok))
    table = Table(title="minimind doctor")
    for col in ("what", "found", "status / what to fix"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if any("[red]" in r[2] for r in rows):
        raise typer.Exit(1)
