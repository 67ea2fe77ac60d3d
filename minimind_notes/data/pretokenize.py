"""Tokenize a pretraining corpus once into a uint16 memmap, packed documents joined by eos.

`prepare(source, tokenizer)` writes `<cache>/<name>.<tokenizer hash>.bin` and a JSON
sidecar (tokenizer hash, source size and mtime, token count, a digest of the .bin). A changed
source or tokenizer rebuilds it; so does a cache that disagrees with its sidecar (a .bin cut
short or altered, a sidecar that does not parse), with one line saying why. An unchanged,
intact one is reused at once.
"""

from __future__ import annotations

import hashlib
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

from minimind_notes.content import home_dir
from minimind_notes.data.jsonl import DataError, bad_line, holds_rows, iter_jsonl, read_text_utf8, require_file
from minimind_notes.data.tokenizer import MiniMindTokenizer
from minimind_notes.errors import warn_once
from minimind_notes.fileio import atomic_path, atomic_write_text


def cache_dir() -> Path:
    return Path(os.environ.get("MINIMIND_CACHE") or home_dir() / "cache")


DIGEST_BLOCK, DIGEST_BLOCKS = 1 << 20, 64
READER = 2  # how iter_documents reads a source; caches of an older reader are rebuilt (1: any suffix
#             but exactly .jsonl was one plain-text document, JSON rows included)


def content_digest(path: Path) -> str:
    """blake2b of the size and up to 64 evenly spaced 1 MiB blocks, first and last included: the
    whole file up to 64 MiB (the embedded corpus's cache: ~2 ms), a bounded sample above."""
    size = path.stat().st_size
    n = -(-size // DIGEST_BLOCK)
    picks = range(n) if n <= DIGEST_BLOCKS else sorted({i * (n - 1) // (DIGEST_BLOCKS - 1)
                                                        for i in range(DIGEST_BLOCKS)})
    digest = hashlib.blake2b(size.to_bytes(8, "little"), digest_size=16)
    with open(path, "rb") as f:
        for i in picks:
            f.seek(i * DIGEST_BLOCK)
            digest.update(f.read(DIGEST_BLOCK))
    return digest.hexdigest()


def iter_documents(path: Path, skip_bad: bool = False, bad: list[str] | None = None) -> Iterator[str]:
    """Texts of a pretraining file: JSON rows with "text" (JSONL or a JSON array), or a plain-text file
    (one document). Which of the two is decided by `holds_rows`."""
    if not holds_rows(path):
        text = read_text_utf8(path)
        if text.strip():  # an empty file is no document (not a lone bos/eos pair)
            yield text
        return
    for lineno, row in iter_jsonl(path, skip_bad, bad):
        text = row.get("text")
        if not isinstance(text, str):
            bad_line(f"{path}:{lineno}: no \"text\" string in this row (keys: {', '.join(row) or 'none'})",
                     skip_bad, bad, fix="pretraining rows look like {\"text\": \"...\"}")
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
            skip_bad: bool | None = None, batch_docs: int = 512) -> PackedTokens:
    """Tokenize `source` into a packed uint16 memmap (cached). A broken line stops with its file:line;
    skip_bad=True skips and counts such lines instead. False says in the message that --skip-bad would
    skip it; None (callers without that option: validation files, experiments) does not."""
    source = require_file(source)
    if tokenizer.vocab_size > 65535:
        raise DataError(f"vocab of {tokenizer.vocab_size} does not fit in uint16")
    stat = source.stat()
    out_dir = out_dir or cache_dir()
    stem = f"{source.stem}.{tokenizer.fingerprint()}"
    bin_path, meta_path = out_dir / f"{stem}.bin", out_dir / f"{stem}.json"
    wanted = {"source": str(source.resolve()), "source_size": stat.st_size,
              "source_mtime": stat.st_mtime, "tokenizer": tokenizer.fingerprint(),
              "skip_bad": bool(skip_bad),  # a cache built with --skip-bad must not pass for a checked one
              "reader": READER}
    if meta_path.is_file() and bin_path.is_file():
        meta, problem = check_cache(bin_path, meta_path)
        if problem is None and all(meta.get(k) == v for k, v in wanted.items()):
            return PackedTokens(bin_path, meta)
        if problem is not None:
            warn_once(f"token cache {bin_path} {problem}: rebuilding it from {source}")

    start = time.perf_counter()
    bad: list[str] | None = [] if skip_bad is not None else None
    n_tokens = n_docs = 0
    # Two stages overlap: the Rust encoder works on batch i+1 (GIL released, all cores) while
    # Python packs and writes batch i. The flat array is one write per batch, not one per doc.
    try:
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
            raise DataError(f"{source}: no text in it (empty dataset)", hint="pass a file with text in it")
        meta = {**wanted, "tokens": n_tokens, "documents": n_docs, "skipped_lines": len(bad or ()),
                "vocab_size": tokenizer.vocab_size, "seconds": round(time.perf_counter() - start, 3),
                "digest": content_digest(bin_path)}
        atomic_write_text(meta_path, json.dumps(meta, indent=2))
    except OSError as e:
        if e.filename and Path(e.filename) == source:
            raise DataError(f"cannot read {source} ({e.strerror})") from None
        raise DataError(f"cannot write the token cache in {out_dir} ({e})",
                        hint="free some disk space, or set MINIMIND_CACHE to a writable folder") from None
    return PackedTokens(bin_path, meta)


def check_cache(bin_path: Path, meta_path: Path) -> tuple[dict, str | None]:
    """(sidecar, None) when the .bin is what its sidecar describes, else (?, why not)."""
    try:
        meta = json.loads(meta_path.read_bytes())
    except (OSError, ValueError) as e:
        return {}, f"has an unreadable sidecar {meta_path.name} ({e})"
    if not isinstance(meta, dict) or not isinstance(meta.get("tokens"), int) or not meta.get("digest"):
        return {}, f"has a sidecar {meta_path.name} without its token count or digest"
    size = bin_path.stat().st_size
    if size != 2 * meta["tokens"]:
        return meta, f"holds {size // 2:,} tokens but was built with {meta['tokens']:,} (cut short or replaced)"
    if content_digest(bin_path) != meta["digest"]:
        return meta, "does not match its digest (the file was altered)"
    return meta, None
