"""Tokenize a pretraining corpus once into a uint16 memmap, packed documents joined by eos.

`prepare(source, tokenizer)` writes `<cache>/<name>.<tokenizer hash>.bin` and a JSON
sidecar (tokenizer hash, source size and mtime, token count). A changed source or
tokenizer rebuilds it; an unchanged one is reused at once.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import BinaryIO

import numpy as np

from minimind_notes.data.jsonl import DataError, iter_jsonl
from minimind_notes.data.tokenizer import MiniMindTokenizer
from minimind_notes.fileio import atomic_path, atomic_write_text


def cache_dir() -> Path:
    from minimind_notes.progress import home_dir

    return Path(os.environ.get("MINIMIND_CACHE") or home_dir() / "cache")


def iter_documents(path: Path, skip_bad: bool = False, bad: list[str] | None = None) -> Iterator[str]:
    """Texts of a pretraining file: JSONL rows with "text", or a plain-text file (one document)."""
    if path.suffix != ".jsonl":
        if not path.is_file():
            raise DataError(f"data file not found: {path}")
        yield path.read_text(encoding="utf-8")
        return
    for lineno, row in iter_jsonl(path, skip_bad, bad):
        text = row.get("text")
        if not isinstance(text, str):
            problem = f"{path}:{lineno}: no \"text\" string in this row (keys: {', '.join(row) or 'none'})"
            if not skip_bad:
                raise DataError(problem, hint="pretraining rows look like {\"text\": \"...\"}; "
                                "or pass --skip-bad")
            if bad is not None:
                bad.append(problem)
            continue
        yield text


def batched(items: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def write_packed(out: BinaryIO, docs: list[list[int]], tokenizer: MiniMindTokenizer) -> int:
    """Append `bos doc eos` for every doc as uint16; returns the number of tokens written."""
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    flat = np.fromiter(chain.from_iterable((bos, *ids, eos) for ids in docs), dtype=np.uint16)
    out.write(flat.tobytes())
    return len(flat)


@dataclass
class PackedTokens:
    path: Path  # the .bin memmap
    meta: dict

    @property
    def tokens(self) -> np.memmap:
        return np.memmap(self.path, dtype=np.uint16, mode="r")

    def __len__(self) -> int:
        return int(self.meta["tokens"])


def prepare(source: str | os.PathLike, tokenizer: MiniMindTokenizer, out_dir: Path | None = None,
            skip_bad: bool = False, batch_docs: int = 512) -> PackedTokens:
    """Tokenize `source` into a packed uint16 memmap (cached)."""
    source = Path(source)
    if not source.is_file():
        raise DataError(f"data file not found: {source}")
    if tokenizer.vocab_size > 65535:
        raise DataError(f"vocab of {tokenizer.vocab_size} does not fit in uint16")
    stat = source.stat()
    out_dir = out_dir or cache_dir()
    stem = f"{source.stem}.{tokenizer.fingerprint()}"
    bin_path, meta_path = out_dir / f"{stem}.bin", out_dir / f"{stem}.json"
    wanted = {"source": str(source.resolve()), "source_size": stat.st_size,
              "source_mtime": stat.st_mtime, "tokenizer": tokenizer.fingerprint(),
              "skip_bad": skip_bad}  # a cache built with --skip-bad must not pass for a checked one
    if meta_path.is_file() and bin_path.is_file():
        meta = json.loads(meta_path.read_text())
        if all(meta.get(k) == v for k, v in wanted.items()):
            return PackedTokens(bin_path, meta)

    start = time.perf_counter()
    bad: list[str] = []
    n_tokens = n_docs = 0
    # Two stages overlap: the Rust encoder works on batch i+1 (GIL released, all cores) while
    # Python packs and writes batch i. The flat array is one write per batch, not one per doc.
    with atomic_path(bin_path) as tmp, open(tmp, "wb") as out, ThreadPoolExecutor(1) as encoder:
        pending = None
        for batch in batched(iter_documents(source, skip_bad, bad), batch_docs):
            queued = encoder.submit(tokenizer.encode_batch, batch)  # starts as soon as the last one ends
            if pending is not None:
                n_tokens += write_packed(out, pending.result(), tokenizer)
            pending = queued
            n_docs += len(batch)
        if pending is not None:
            n_tokens += write_packed(out, pending.result(), tokenizer)
    if n_tokens == 0:
        bin_path.unlink(missing_ok=True)
        raise DataError(f"{source}: no documents to train on (empty dataset)")
    meta = {**wanted, "tokens": n_tokens, "documents": n_docs, "skipped_lines": len(bad),
            "vocab_size": tokenizer.vocab_size, "seconds": round(time.perf_counter() - start, 3)}
    atomic_write_text(meta_path, json.dumps(meta, indent=2))
    return PackedTokens(bin_path, meta)
