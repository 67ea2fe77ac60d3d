"""`minimind tokenizer train|encode|decode|inspect`."""

from __future__ import annotations

from pathlib import Path

import typer

from minimind_notes.cli.console import console
from minimind_notes.cli.shared import group

tokenizer_app = group("Train and inspect MiniMind's byte-level BPE tokenizer.")
TOKENIZER_OPTION = typer.Option(None, "--tokenizer", help="Tokenizer folder (default: the shipped one).")


def iter_texts(path: Path, skip_bad: bool = False, bad: list[str] | None = None):  # Iterator[str]
    """Texts of a JSON-rows corpus ({"text"} or {"conversations"/"chosen"/"rejected"} rows) or a plain-text
    file (each line a text). Lines that are not UTF-8, not JSON, or hold no text raise, or with skip_bad go to `bad`."""
    from minimind_notes.data.jsonl import bad_line, holds_rows, iter_jsonl, iter_lines

    if not holds_rows(path):
        for _, line in iter_lines(path, skip_bad, bad):
            yield line
        return
    for lineno, row in iter_jsonl(path, skip_bad, bad):
        texts = [row["text"]] if "text" in row else []
        texts += [m.get("content") if isinstance(m, dict) else m
                  for key in ("conversations", "chosen", "rejected") for m in row.get(key) or []]
        if not texts or not all(isinstance(text, str) for text in texts):
            bad_line(f"{path}:{lineno}: expected a \"text\" string or lists of {{role, content}} messages",
                     skip_bad, bad)
            continue
        yield from texts


@tokenizer_app.command("train")
def train(
    data: list[Path] = typer.Option(None, "--data", help="Corpus files (JSONL, a .json array of rows, or plain "
                                    "text); default: the embedded corpus."),
    vocab_size: int = typer.Option(6400, "--vocab-size", min=259, max=65535,
                                    help="Vocabulary size (MiniMind: 6400; at least 256 bytes + 3 special tokens, "
                                         "at most 65535: token caches hold uint16 ids)."),
    out: Path = typer.Option(Path("tokenizer"), help="Folder to write tokenizer.json into."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the tokenizer already in --out."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip (and count) lines that are not UTF-8 "
                                  "or not valid rows instead of stopping."),
    specials: str = typer.Option("minimind2", "--specials",
                                 help="Special tokens: MiniMind2's 3, or minimind-3's 36 (tool calls, thinking)."),
) -> None:
    """Train a byte-level BPE tokenizer with MiniMind's special tokens."""
    import itertools
    import time

    from rich.markup import escape

    from minimind_notes.content import data_dir
    from minimind_notes.data.jsonl import require_file
    from minimind_notes.data.tokenizer import SPECIALS, train_tokenizer
    from minimind_notes.errors import UsageError

    check_tokenizer_out(out, overwrite)
    if specials not in SPECIALS:
        raise UsageError(f"--specials {specials} is not a special-token set", hint=f"use {' or '.join(SPECIALS)}")
    if vocab_size < 256 + len(SPECIALS[specials]):
        raise UsageError(f"--vocab-size {vocab_size} is too small for the {specials} special tokens",
                         hint=f"use at least {256 + len(SPECIALS[specials])} (256 bytes + "
                              f"{len(SPECIALS[specials])} special tokens)")
    files = [require_file(f, "corpus file") for f in data or [data_dir() / "pretrain.jsonl", data_dir() / "sft.jsonl"]]
    start = time.perf_counter()
    bad: list[str] = []
    texts = itertools.chain.from_iterable(iter_texts(f, skip_bad, bad) for f in files)
    tok = train_tokenizer(texts, out, vocab_size, specials, source=", ".join(map(str, files)))
    if bad:
        console.print(f"[yellow]skipped {len(bad)} bad line(s) (--skip-bad), the first: {escape(bad[0])}[/]")
    sample = "Once upon a time, Mia walked to the river. 从前,米娅走到河边。"
    ids = tok.encode(sample)
    console.print(f"Trained a {tok.vocab_size}-token tokenizer on {', '.join(map(str, files))} in "
                  f"{time.perf_counter() - start:.1f} s -> {out}/tokenizer.json")
    console.print(f"{len(sample)} characters -> {len(ids)} tokens ({len(sample) / len(ids):.2f} chars/token)")


def check_tokenizer_out(out: Path, overwrite: bool) -> None:
    """Before training: --out must be a folder that can be written, never the shipped tokenizer (every
    command's default), and one that holds a tokenizer only with --overwrite."""
    from minimind_notes.data.tokenizer import default_tokenizer_dir
    from minimind_notes.errors import MiniMindError, UsageError
    from minimind_notes.fileio import check_writable_folder

    new_folder = "pass a new folder name, e.g. --out my_tokenizer (then use it with --tokenizer my_tokenizer)"
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; --out names the folder to write tokenizer.json into",
                         hint=new_folder)
    if out.resolve() == default_tokenizer_dir().resolve():
        raise UsageError(f"--out {out} is the shipped tokenizer, which every command uses by default; it is "
                         "never replaced", hint=new_folder)
    if (out / "tokenizer.json").exists() and not overwrite:
        raise MiniMindError(f"{out} already holds a tokenizer ({out / 'tokenizer.json'})",
                            hint="pass --overwrite to replace it, or another --out")
    check_writable_folder(out, hint="pass --out a folder you can write to (it is created if missing)")


@tokenizer_app.command("encode")
def encode(text: str = typer.Argument(...), tokenizer: Path | None = TOKENIZER_OPTION) -> None:
    """Token ids of TEXT."""
    from minimind_notes.data.jsonl import check_text
    from minimind_notes.data.tokenizer import MiniMindTokenizer

    console.print(MiniMindTokenizer.from_dir(tokenizer).encode(check_text(text, "TEXT")))


@tokenizer_app.command("decode")
def decode(ids: list[int] = typer.Argument(..., help="Token ids, separated by spaces."),
           tokenizer: Path | None = TOKENIZER_OPTION) -> None:
    """Text of token IDS."""
    from minimind_notes.data.tokenizer import MiniMindTokenizer
    from minimind_notes.errors import UsageError

    tok = MiniMindTokenizer.from_dir(tokenizer)
    outside = [i for i in ids if not 0 <= i < tok.vocab_size]
    if outside:
        raise UsageError(f"token id(s) {', '.join(map(str, outside))} outside the vocabulary "
                         f"(0 to {tok.vocab_size - 1})",
                         hint="pass ids printed by `minimind tokenizer encode` with the same tokenizer")
    console.print(tok.decode(ids), markup=False)


@tokenizer_app.command("inspect")
def inspect(text: str = typer.Argument(...), tokenizer: Path | None = TOKENIZER_OPTION) -> None:
    """Each token of TEXT as readable text with its id, and the compression."""
    from rich.table import Table

    from minimind_notes.data.jsonl import check_text
    from minimind_notes.data.tokenizer import MiniMindTokenizer

    tok = MiniMindTokenizer.from_dir(tokenizer)
    ids = tok.encode(check_text(text, "TEXT"))
    table = Table(title=f"{len(text)} characters, {len(text.encode())} bytes -> {len(ids)} tokens "
                        f"({len(text) / max(len(ids), 1):.2f} chars/token)")
    table.add_column("#", justify="right")
    table.add_column("id", justify="right")
    table.add_column("piece")
    for i, (token_id, piece) in enumerate(zip(ids, tok.pieces(ids), strict=True)):
        table.add_row(str(i), str(token_id), repr(piece)[1:-1])
    console.print(table)
