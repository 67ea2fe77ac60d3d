"""`minimind data ...`: the catalogue of real MiniMind data, and resumable downloads of it."""

from __future__ import annotations

from pathlib import Path

import typer

from minimind_notes.cli.console import console
from minimind_notes.cli.shared import LANG_OPTION, group

data_app = group("The real MiniMind data sets and weights: list them, download them.")

FOOTER = {
    "en": "Sizes are approximate. Sources: --source modelscope (default) or huggingface (set HF_ENDPOINT for "
          "a mirror). --file NAME fetches any other file of the dataset repository.",
    "zh": "大小为近似值。来源：--source modelscope（默认）或 huggingface（镜像可设 HF_ENDPOINT）。"
          "--file NAME 可下载数据集仓库中的任意其他文件。",
}


@data_app.command("list")
def data_list_cmd(lang: str | None = LANG_OPTION,
                  as_json: bool = typer.Option(False, "--json", help="Print the catalogue as JSON.")) -> None:
    """The catalogue: every data set, weight bundle and benchmark `minimind data download` knows by name, with
    its format, the stage that reads it and whether this project can train on it today."""
    from rich.markup import escape
    from rich.table import Table

    from minimind_notes.data.download import catalog, entries
    from minimind_notes.i18n import pick, resolve_lang

    lang = resolve_lang(lang)
    groups = catalog().get("groups", {})
    if as_json:
        import json

        rows = [{"name": e.name, "group": e.group, "size": e.size, "format": e.format, "stage": e.stage,
                 "trainable": e.trainable is True, "why_not": None if e.trainable is True else pick(e.trainable, lang),
                 "files": [{"file": f, "bytes": e.expected(f)[0], "sha256": e.expected(f)[1]} for f in e.files],
                 "description": pick(e.description, lang)} for e in entries()]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title="minimind data download NAME", title_justify="left")
    table.add_column("name", no_wrap=True)  # the word to type after `download`: never broken
    for col in ("file", "size", "format", "stage", "trainable", "description"):
        table.add_column(col, overflow="fold")
    for e in entries():
        files = "\n".join(e.files) if e.save_as is None else f"{e.save_as} ({e.files[0]})"
        trainable = "[green]yes[/]" if e.trainable is True else f"[yellow]{escape(pick(e.trainable, lang))}[/]"
        table.add_row(f"[bold]{e.name}[/]", files, e.size, escape(e.format), escape(e.stage), trainable,
                      escape(f"{pick(groups.get(e.group, e.group), lang)}: {pick(e.description, lang)}"))
    console.print(table)
    console.print(pick(FOOTER, lang))


@data_app.command("download")
def data_download_cmd(
    name: str | None = typer.Argument(None, metavar="NAME",
                                      help="A name from `minimind data list` (or its file name)."),
    source: str | None = typer.Option(None, "--source", "-s",
                                      help="modelscope (default) or huggingface (honours HF_ENDPOINT)."),
    dir: Path = typer.Option(Path("dataset"), "--dir", "-d", help="Folder to save into."),
    files: list[str] | None = typer.Option(
        None, "--file", "-f",
        help="Any file of the dataset repository, named as published (of NAME's repository when NAME is "
             "given, e.g. the weights); repeatable."),
    url: str | None = typer.Option(
        None, "--url", envvar="MINIMIND_DATA_URL",
        help="URL template replacing the catalogue's: {file} is the file name; without {file}, /FILE is "
             "appended (a mirror or a local server)."),
    force: bool = typer.Option(False, "--force", "--force-download",
                               help="Download again even if the file is already there."),
) -> None:
    """Download a data set (resumable: run it again after an interruption), checked before it is named."""
    from minimind_notes.data.download import check_url_template, default_source, download, human_bytes, source_hint
    from minimind_notes.errors import UsageError

    if not name and not files:
        raise UsageError("say what to download: a NAME or --file FILE",
                         hint="`minimind data list` shows the names")
    if url:
        check_url_template(url)
    hint = source_hint(source or default_source(), url)
    from minimind_notes.data.download import find_entry, unpack

    entry = find_entry(name) if name and not files else None
    for target in _targets(name, files or [], source, url):
        dest = dir / target.filename
        if dest.is_file() and not force:
            console.print(f"{dest} is already there (--force downloads it again; `minimind data verify` "
                          "checks it).")
            if entry is not None and entry.unpack and not (dir / entry.name).is_dir():
                console.print(f"Unpacked {unpack(dest, dir / entry.name):,} files into {dir / entry.name}")
            continue
        console.print(f"Downloading {target.url}\n  -> {dest}")
        done = download(target.url, dest, target.size, target.sha256, hint=hint,
                        say=lambda text: console.print(f"[yellow]{text}[/]"))
        if done.sha256:
            console.print(f"[green]Saved[/] {dest} ({human_bytes(done.size)}): size and sha256 match "
                          f"{done.checked}")
        else:
            console.print(f"[yellow]Saved, unverified (no published sha256)[/] {dest} ({human_bytes(done.size)}): "
                          f"its size matches {done.checked}, but no source publishes its sha256",
                          soft_wrap=True)
        if entry is not None and entry.unpack:
            console.print(f"Unpacked {unpack(dest, dir / entry.name):,} files into {dir / entry.name}")


@data_app.command("verify")
def data_verify_cmd(
    name: str | None = typer.Argument(None, metavar="[NAME]",
                                      help="A name from `minimind data list` (default: every catalogue file "
                                           "found in --dir)."),
    dir: Path = typer.Option(Path("dataset"), "--dir", "-d", help="Folder the files were saved into."),
) -> None:
    """Check downloaded files against the catalogue's exact size and sha256, and against what arrived when
    `minimind data download` fetched them (its FILE.minimind.json record)."""
    from minimind_notes.data.download import entries, find_entry, verify_file
    from minimind_notes.errors import UsageError

    if name is not None:
        entry = find_entry(name)
        if entry is None:
            raise UsageError(f"unknown data set {name!r}", hint="`minimind data list` shows the names")
        chosen = [entry]
    else:
        chosen = entries()
    rows = [(e, f, dir / (e.save_as if e.save_as and not e.is_bundle else f)) for e in chosen for f in e.files]
    if name is None:
        rows = [r for r in rows if r[2].exists()]
        if not rows:
            raise UsageError(f"no catalogue file in {dir}", hint="give --dir the folder you downloaded into")
    bad = 0
    for entry, file, path in rows:
        status, detail = verify_file(path, *entry.expected(file))
        bad += status not in ("ok", "unverified")
        colour = {"ok": "green", "unverified": "yellow"}.get(status, "red")
        console.print(f"[{colour}]{status}[/] {path}" + (f": {detail}" if detail else ""), soft_wrap=True)
    if bad:
        console.print(f"{bad} file(s) are not what was published or downloaded: download them again with --force.")
        raise typer.Exit(1)


def _targets(name: str | None, files: list[str], source: str | None, url: str | None) -> list:
    """What to fetch: every file of NAME, or the --file names (from NAME's repository when given)."""
    from minimind_notes.data.download import find_entry, resolve_all, resolve_file
    from minimind_notes.errors import UsageError

    if not files:
        return resolve_all(name, source, url)
    repo = "dataset"
    if name:
        entry = find_entry(name)
        if entry is None:
            raise UsageError(f"unknown data set {name!r}", hint="`minimind data list` shows the names")
        repo = entry.repo
    return [resolve_file(f, source, repo, url) for f in files]


@data_app.command("prepare")
def data_prepare_cmd(
    data: Path = typer.Argument(None, help="The data file (default: the stage's embedded one): pretraining JSONL "
                                "({\"text\"} rows) or plain text; SFT/LoRA/distillation conversations; DPO pairs."),
    stage: str = typer.Option("pretrain", "--stage", help="pretrain, sft, lora, distill or dpo: which trainer "
                              "reads the cache."),
    max_seq_len: int = typer.Option(None, "--max-seq-len", "--max_seq_len", min=2,
                                    help="Conversations: tokens kept a row, as `train` will use (default: the "
                                    "stage's); longer rows are cut as MiniMind cuts them."),
    tokenizer: str | None = typer.Option(None, "--tokenizer", help="Tokenizer folder (default: shipped)."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip and count broken lines."),
) -> None:
    """Tokenize a data file once into memory-mapped caches that training reads (rebuilt when the file, the
    tokenizer or max_seq_len change): packed uint16 text for pretraining, masked conversations for the rest."""
    from minimind_notes.content import data_dir
    from minimind_notes.data.tokenizer import MiniMindTokenizer
    from minimind_notes.errors import UsageError
    from minimind_notes.train.config import DEFAULTS

    if stage not in ("pretrain", "sft", "lora", "distill", "dpo"):
        raise UsageError(f"--stage {stage!r} has no cache to prepare", hint="pretrain, sft, lora, distill or dpo")
    source = data or data_dir() / DEFAULTS[stage].data
    tok = MiniMindTokenizer.from_dir(tokenizer)
    if stage != "pretrain":
        from minimind_notes.data.chat_cache import prepare_chats

        cache = prepare_chats(source, tok, max_seq_len or DEFAULTS[stage].max_seq_len,
                              "pair" if stage == "dpo" else "conversations", skip_bad)
        m = cache.meta
        console.print(f"{source}: {m['rows']:,} rows -> {m['tokens']:,} tokens in {cache.path('ids')} "
                      f"({m['tokens'] / max(m['seconds'], 1e-9) / 1e6:.2f}M tokens/s when built)")
        for note in cache.notes():
            console.print(note, style="yellow", markup=False)
        return
    from minimind_notes.data.pretokenize import prepare

    packed = prepare(source, tok, skip_bad=skip_bad)
    m = packed.meta
    console.print(f"{source}: {m['documents']:,} documents -> {m['tokens']:,} tokens in {packed.path} "
                  f"({m['tokens'] / max(m['seconds'], 1e-9) / 1e6:.2f}M tokens/s when built)")
    if m.get("skipped_lines"):
        console.print(f"[yellow]skipped {m['skipped_lines']} bad lines[/]")
