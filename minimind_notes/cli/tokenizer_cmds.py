"""`minimind tokenizer train|encode|decode|inspect`."""

from __future__ import annotations

from pathlib import Path

import typer

from minimind_notes.cli.app import MiniMindGroup, app
from minimind_notes.cli.console import console

tokenizer_app = typer.Typer(cls=MiniMindGroup, no_args_is_help=True,
                            help="Train and inspect MiniMind's byte-level BPE tokenizer.")
app.add_typer(tokenizer_app, name="tokenizer")
TOKENIZER_OPTION = typer.Option(None, "--tokenizer", help="Tokenizer folder (default: the shipped one).")


def iter_texts(path: Path):  # noqa: ANN201 - Iterator[str]
    """Texts of a JSONL corpus ({"text"} or {"conversations"} rows) or a plain-text file."""
    from minimind_notes.data.jsonl import iter_jsonl

    if path.suffix != ".jsonl":
        with open(path, encoding="utf-8") as f:
            yield from f
        return
    for _, row in iter_jsonl(path, skip_bad=True):
        if "text" in row:
            yield row["text"]
        for key in ("conversations", "chosen", "rejected"):
            for message in row.get(key) or []:
                yield message.get("content", "")


@tokenizer_app.command("train")
def train(
    data: list[Path] = typer.Option(None, "--data", help="Corpus files (.jsonl or .txt); "
                                    "default: the embedded corpus."),
    vocab_size: int = typer.Option(6400, "--vocab-size", help="Vocabulary size (MiniMind: 6400)."),
    out: Path = typer.Option(Path("tokenizer"), help="Folder to write tokenizer.json into."),
) -> None:
    """Train a byte-level BPE tokenizer with MiniMind's special tokens."""
    import itertools
    import time

    from minimind_notes.content import data_dir
    from minimind_notes.data.tokenizer import train_tokenizer

    files = data or [data_dir() / name for name in ("pretrain.jsonl", "sft.jsonl")]
    for f in files:
        if not f.is_file():
            from minimind_notes.errors import MiniMindError

            raise MiniMindError(f"corpus file not found: {f}")
    start = time.perf_counter()
    tok = train_tokenizer(itertools.chain.from_iterable(iter_texts(f) for f in files), out, vocab_size)
    sample = "Once upon a time, Mia walked to the river. 从前,米娅走到河边。"
    ids = tok.encode(sample)
    console.print(f"Trained a {tok.vocab_size}-token tokenizer on {', '.join(map(str, files))} in "
                  f"{time.perf_counter() - start:.1f} s -> {out}/tokenizer.json")
    console.print(f"{len(sample)} characters -> {len(ids)} tokens ({len(sample) / len(ids):.2f} chars/token)")


@tokenizer_app.command("encode")
def encode(text: str = typer.Argument(...), tokenizer: Path | None = TOKENIZER_OPTION) -> None:
    """Token ids of TEXT."""
    from minimind_notes.data.tokenizer import MiniMindTokenizer

    console.print(MiniMindTokenizer.from_dir(tokenizer).encode(text))


@tokenizer_app.command("decode")
def decode(ids: list[int] = typer.Argument(..., help="Token ids, separated by spaces."),
           tokenizer: Path | None = TOKENIZER_OPTION) -> None:
    """Text of token IDS."""
    from minimind_notes.data.tokenizer import MiniMindTokenizer

    console.print(MiniMindTokenizer.from_dir(tokenizer).decode(ids), markup=False)


@tokenizer_app.command("inspect")
def inspect(text: str = typer.Argument(...), tokenizer: Path | None = TOKENIZER_OPTION) -> None:
    """Each token of TEXT as readable text with its id, and the compression."""
    from rich.table import Table

    from minimind_notes.data.tokenizer import MiniMindTokenizer

    tok = MiniMindTokenizer.from_dir(tokenizer)
    ids = tok.encode(text)
    table = Table(title=f"{len(text)} characters, {len(text.encode())} bytes -> {len(ids)} tokens "
                        f"({len(text) / max(len(ids), 1):.2f} chars/token)")
    table.add_column("#", justify="right")
    table.add_column("id", justify="right")
    table.add_column("piece")
    for i, (token_id, piece) in enumerate(zip(ids, tok.pieces(ids), strict=True)):
        table.add_row(str(i), str(token_id), repr(piece)[1:-1])
    console.print(table)
