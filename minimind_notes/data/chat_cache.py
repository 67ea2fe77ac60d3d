"""SFT, LoRA, distillation and DPO data tokenized once into memory-mapped caches that training reads.

`prepare_chats(source, tokenizer, max_seq_len, key)` streams the rows (never the whole file in memory), in
batches through the batch encoder, into three flat files under the cache folder:

    <name>.ids      every kept conversation's token ids, one after another (uint16; uint32 above 65,535)
    <name>.learn    1 where the SFT loss learns the token (masked_ids' label is the id), 0 where it is -100
    <name>.offsets  int64: where each conversation starts, then the end (conversations + 1 values)

and a JSON sidecar written last (source size, mtime and content digest, tokenizer, chat template,
max_seq_len, counts, a digest of each file). A changed source, tokenizer, template or max_seq_len gives
another cache or rebuilds this one; a cache that disagrees with its sidecar is rebuilt. DPO rows are two
conversations each: the chosen one at 2i, the rejected one at 2i + 1.

The ids and masks are exactly `masked_ids`': conversations are cut to their first max_seq_len tokens, as
MiniMind's SFTDataset cuts them (the sidecar counts those rows), and a row cut before its first target is
dropped (counted too). A tokenizer whose template lays messages out as ChatML (probed by rendering) gets
the fast path: each message's text is batch-encoded and framed by the template's constant ids; every build
first compares it with `masked_ids` on probe conversations and on its own first rows. Any other row (tool
calls, reasoning, another template) goes through `masked_ids` itself, one row at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from itertools import chain, islice
from pathlib import Path
from typing import Any

import numpy as np
import torch

from minimind_notes.data.chat import BOS, EOS, MINIMIND3_FIELDS
from minimind_notes.data.datasets import IGNORE, SFTExample, iter_rows, masked_ids, pad_batch, require_targets
from minimind_notes.data.jsonl import DataError, bad_line, require_file
from minimind_notes.data.pretokenize import batched, cache_dir, content_digest
from minimind_notes.data.tokenizer import PLACEHOLDER, MiniMindTokenizer
from minimind_notes.errors import MiniMindError, warn_once
from minimind_notes.fileio import atomic_path, atomic_write_text

FORMAT = 1  # caches of another layout are rebuilt
BATCH_ROWS = 2048
PARALLEL_BYTES = 16 << 20  # smaller files are encoded in this process (no workers to start)
CHECKED_ROWS = 64  # each build compares the fast path with masked_ids on its first rows
HELD_OUT_SHARE, HELD_OUT_MAX, HELD_OUT_MIN_ROWS = 0.005, 2000, 200
PROBES = [  # conversations whose ids a ChatML fast path must give exactly as masked_ids does
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
    [{"role": "system", "content": "\n be brief \n"}, {"role": "user", "content": "<|im_end|> a <|im_start|>b\n"},
     {"role": "assistant", "content": "\n\nlead, trail\n"}, {"role": "tool", "content": "  "},
     {"role": "user", "content": ""}, {"role": "assistant", "content": "中文 tabs\t<|endoftext|>"}],
    [{"role": "user", "content": "x"}, {"role": "assistant", "content": ""}],
]
Pieces = tuple[list[list[int] | int], list[bool]]  # token lists (or the index of a text to encode), learned?


class ChatMLLayout:
    """The template's constant ids around each message when it renders every message as
    `<|im_start|>role\\ncontent<|im_end|>\\n`, after a fixed preamble when the first is no system message."""

    def __init__(self, tok: MiniMindTokenizer, preamble: str) -> None:
        self.bos, self.eos, self.newline = [tok.bos_token_id], [tok.eos_token_id], tok.newline_ids
        self.assistant = [tok.bos_token_id, *tok.encode_plain("assistant\n")]
        self.preamble = tok.encode_marking(preamble, [(0, len(preamble))])  # all of it is the template's

    @classmethod
    def of(cls, tok: MiniMindTokenizer) -> ChatMLLayout | None:
        """The layout, or None when the template renders the probes any other way."""
        try:
            text = tok.render_chat([{"role": "user", "content": "x"}])
            preamble = text[:text.rfind(f"{BOS}user\nx{EOS}\n")]
            for conv in PROBES:
                expected = "" if conv[0]["role"] == "system" else preamble
                expected += "".join(f"{BOS}{m['role']}\n{m['content']}{EOS}\n" for m in conv)
                if tok.render_chat(conv) != expected:
                    return None
        except MiniMindError:  # a template that cannot render plain conversations: masked_ids will say why
            return None
        return cls(tok, preamble)

    @staticmethod
    def fits(conv: Sequence[dict[str, Any]]) -> bool:
        """Plain messages: no tool definitions, tool calls or reasoning (which masked_ids may refuse or move), no
        reserved character."""
        if getattr(conv, "tools", None):  # a Conversation whose row defines tools: masked_ids renders them
            return False
        for m in conv:
            content = m["content"]
            if PLACEHOLDER in content or (m["role"] == "assistant" and "</think>" in content) or (
                    len(m) > 2 and any(m.get(k) for k in MINIMIND3_FIELDS)):
                return False
        return True

    def add(self, conv: Sequence[dict[str, Any]], pieces: Pieces, texts: list[str]) -> None:
        """Append the conversation's pieces: texts to encode go to `texts`, their indices to the pieces."""
        ids, learn = pieces
        if conv[0]["role"] != "system":
            ids.append(self.preamble)
            learn.append(False)
        for m in conv:
            if m["role"] == "assistant":  # learned: the reply through its <|im_end|>
                texts.append(m["content"])
                ids += [self.assistant, len(texts) - 1, self.eos, self.newline]
                learn += [False, True, True, False]
            else:
                texts.append(f"{m['role']}\n{m['content']}")
                ids += [self.bos, len(texts) - 1, self.eos, self.newline]
                learn += [False, False, False, False]


@dataclass
class Encoded:
    """Conversations one after another: flat ids and learn flags, and each conversation's length."""
    ids: np.ndarray  # (tokens,)
    learn: np.ndarray  # (tokens,) bool
    lengths: np.ndarray  # (conversations,) int64


@dataclass
class Prepared:
    """One batch as written: the kept conversations, cut, and what happened to the batch's rows."""
    kept: Encoded
    read: int  # rows read, kept or not
    counts: dict[str, int]  # rows kept, truncated (and kept), no_target (dropped)
    bad: list[str]  # rows masked_ids refused (skip_bad)


Item = Sequence[dict[str, Any]] | tuple[list[int], list[bool]]  # a conversation for the fast path, or its ids
Row = tuple[str, list[tuple[str, Sequence[dict[str, Any]]]]]  # (place, [(side, conversation)]), see `conversations`


class Encoder:
    """Turns rows into masked ids, cut, in the cache's dtype. per_row: conversations a row (DPO: 2, and a pair
    stays only with both sides); skip_bad as for `bad_line`, collect_bad: whether bad lines are listed."""

    def __init__(self, tok: MiniMindTokenizer, layout: ChatMLLayout | None, max_len: int = sys.maxsize,
                 per_row: int = 1, skip_bad: bool | None = None, collect_bad: bool = False, threads: int = 0) -> None:
        self.tok, self.layout, self.max_len, self.per_row = tok, layout, max_len, per_row
        self.skip_bad, self.collect_bad, self.threads = skip_bad, collect_bad, threads or os.cpu_count() or 1
        self.dtype = np.uint16 if tok.vocab_size <= 1 << 16 else np.uint32

    def item(self, where: str, conv: Sequence[dict[str, Any]]) -> Item:
        """The conversation itself when the fast path takes it, else masked_ids' ids and learn flags, uncut
        (the build cuts), with the row's place in any error."""
        if self.layout is not None and self.layout.fits(conv):
            return conv
        try:
            ids, labels = masked_ids(self.tok, conv, sys.maxsize)
        except MiniMindError as e:  # the tokenizer's refusal, with the row it came from
            raise DataError(f"{where}: {e.message}", hint=e.hint) from None
        return ids, [label != IGNORE for label in labels]

    def encode(self, items: Sequence[Item]) -> Encoded:
        pieces: Pieces = ([], [])
        counts, texts = [], []
        for item in items:
            before = len(pieces[0])
            if isinstance(item, tuple):  # masked_ids' ids: one piece a token
                pieces[0].extend([i] for i in item[0])
                pieces[1].extend(item[1])
            else:
                self.layout.add(item, pieces, texts)
            counts.append(len(pieces[0]) - before)
        encoded = self.tok.encode_plain_batch(texts, self.threads)
        ids = [encoded[p] if isinstance(p, int) else p for p in pieces[0]]
        sizes = np.fromiter(map(len, ids), np.int64, len(ids))
        flat = np.fromiter(chain.from_iterable(ids), self.dtype, int(sizes.sum()))
        first_piece = np.cumsum([0, *counts[:-1]], dtype=np.int64)
        lengths = np.add.reduceat(sizes, first_piece) if counts else np.zeros(0, np.int64)
        return Encoded(flat, np.repeat(np.array(pieces[1], dtype=bool), sizes), lengths)

    def prepare(self, rows: Sequence[Row]) -> Prepared:
        bad: list[str] | None = [] if self.collect_bad else None
        items: list[Item] = []
        for where, convs in rows:
            try:
                items += [self.item(f"{where}{side}", conv) for side, conv in convs]
            except DataError as e:  # a row masked_ids refuses is a bad line, both sides of a pair with it
                bad_line(e.message, self.skip_bad, bad, *([e.hint] if e.hint else []))
        kept, counts = cut(self.encode(items), self.max_len, self.per_row)
        return Prepared(kept, len(rows), counts, bad or [])


def cut(batch: Encoded, max_len: int, per_row: int) -> tuple[Encoded, dict[str, int]]:
    """The conversations cut to their first max_len tokens (MiniMind's truncation), rows left without a target
    dropped; how many rows were kept, truncated and dropped."""
    starts = np.cumsum([0, *batch.lengths[:-1]], dtype=np.int64)
    keep = None
    if (batch.lengths > max_len).any():
        keep = np.arange(len(batch.ids)) - np.repeat(starts, batch.lengths) < max_len  # position in its conversation
    learned = batch.learn if keep is None else batch.learn & keep
    targets = np.add.reduceat(learned, starts) > 0 if len(starts) else np.zeros(0, bool)
    row_ok = targets.reshape(-1, per_row).all(1)
    row_cut = (batch.lengths > max_len).reshape(-1, per_row).any(1)
    if not row_ok.all():
        dropped = np.repeat(np.repeat(row_ok, per_row), batch.lengths)
        keep = dropped if keep is None else keep & dropped
    lengths = np.minimum(batch.lengths, max_len)[np.repeat(row_ok, per_row)]
    counts = {"rows": int(row_ok.sum()), "truncated": int((row_cut & row_ok).sum()),
              "no_target": int((~row_ok).sum())}
    if keep is None:
        return Encoded(batch.ids, batch.learn, lengths), counts
    return Encoded(batch.ids[keep], batch.learn[keep], lengths), counts


_worker: Encoder | None = None  # a build's worker process's encoder


def start_worker(tokenizer_json: str, path: Path | None, fast: bool, *settings: Any) -> None:
    global _worker
    from tokenizers import Tokenizer

    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one process a core already
    tok = MiniMindTokenizer(Tokenizer.from_str(tokenizer_json), path)
    _worker = Encoder(tok, ChatMLLayout.of(tok) if fast else None, *settings, threads=1)


def prepare_in_worker(rows: Sequence[Row]) -> Prepared:
    return _worker.prepare(rows)


class ChatCache:
    """The memory-mapped conversations of one prepared file (see the module doc)."""

    def __init__(self, stem: Path, meta: dict) -> None:
        self.stem, self.meta = stem, meta

    def path(self, part: str) -> Path:
        return self.stem.with_name(f"{self.stem.name}.{part}")

    @cached_property
    def ids(self) -> np.ndarray:
        return np.memmap(self.path("ids"), dtype=self.meta["dtype"], mode="r")

    @cached_property
    def learn(self) -> np.ndarray:
        return np.memmap(self.path("learn"), dtype=np.uint8, mode="r")

    @cached_property
    def offsets(self) -> np.ndarray:
        return np.memmap(self.path("offsets"), dtype=np.int64, mode="r")

    def __len__(self) -> int:
        """Conversations (DPO: two a row)."""
        return int(self.meta["conversations"])

    def example(self, i: int) -> SFTExample:
        start, end = int(self.offsets[i]), int(self.offsets[i + 1])
        ids = np.asarray(self.ids[start:end], dtype=np.int64)
        return SFTExample(ids.tolist(), np.where(self.learn[start:end] > 0, ids, IGNORE).tolist())

    def notes(self) -> list[str]:
        """What the build left out or cut, for the run's summary."""
        m, source = self.meta, Path(self.meta["source"]).name
        notes = [f"skipped {len(m['bad_lines'])} bad line(s) of {source} (--skip-bad): {m['bad_lines'][0]}"
                 ] if m["bad_lines"] else []
        if m["truncated"]:
            notes.append(f"cut {m['truncated']:,} of {m['rows']:,} row(s) of {source} to their first "
                         f"max_seq_len {m['max_seq_len']} tokens (as MiniMind does)")
        if m["no_target"]:
            notes.append(f"dropped {m['no_target']:,} row(s) of {source} whose assistant reply starts after "
                         f"max_seq_len {m['max_seq_len']}")
        return notes


def count_lines(path: Path) -> int:
    """Lines in the file (the progress bar's total), read in 16 MiB blocks."""
    with open(path, "rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 24), b""))


def progress_bar(what: str) -> Any:
    """A rich progress bar on stderr (rows, tokens/s, ETA), or None when stderr is no terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return None
    return Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TextColumn("rows, {task.fields[rate]}"),
                    TimeRemainingColumn(), console=console, transient=True)


def prepare_chats(source: str | os.PathLike, tokenizer: MiniMindTokenizer, max_seq_len: int,
                  key: str = "conversations", skip_bad: bool | None = None, out_dir: Path | None = None,
                  batch_rows: int = BATCH_ROWS) -> ChatCache:
    """The cache of `source`'s conversations (key "conversations") or preference pairs (key "pair"), built when
    missing or stale. skip_bad as in `read_rows`."""
    source = require_file(source)
    if key not in ("conversations", "pair"):
        raise ValueError(f"key {key!r}")
    stat = source.stat()
    config = {"source": str(source.resolve()), "key": key, "max_seq_len": max_seq_len,
              "tokenizer": tokenizer.fingerprint(),
              "template": hashlib.sha256(tokenizer.chat_template.encode()).hexdigest()[:16],
              "skip_bad": bool(skip_bad), "format": FORMAT}
    name = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
    stem = (out_dir or cache_dir()) / f"{source.stem}.{'dpo' if key == 'pair' else 'sft'}.{name}"
    wanted = {**config, "source_size": stat.st_size, "source_mtime": stat.st_mtime,
              "source_digest": content_digest(source)}
    cache = ChatCache(stem, {})
    if cache.path("json").is_file():
        meta, problem = check_chat_cache(cache)
        if problem is None and all(meta.get(k) == v for k, v in wanted.items()):
            return ChatCache(stem, meta)
        if problem is not None:
            warn_once(f"SFT cache {stem} {problem}: rebuilding it from {source}")
    try:
        meta = build(source, tokenizer, max_seq_len, key, skip_bad, cache, batch_rows)
        atomic_write_text(cache.path("json"), json.dumps({**wanted, **meta}, indent=2, ensure_ascii=False))
    except OSError as e:
        if e.filename and Path(e.filename) == source:
            raise DataError(f"cannot read {source} ({e.strerror})") from None
        raise DataError(f"cannot write the SFT cache in {stem.parent} ({e})",
                        hint="free some disk space, or set MINIMIND_CACHE to a writable folder") from None
    return ChatCache(stem, {**wanted, **meta})


def conversations(source: Path, key: str, skip_bad: bool | None,
                  bad: list[str] | None) -> Iterator[tuple[str, list[tuple[str, Sequence[dict[str, Any]]]]]]:
    """(place, [(side, conversation)]) of each valid row: DPO rows have ": chosen" and ": rejected"."""
    for lineno, value in iter_rows(source, key, skip_bad, bad):
        where = f"{source}:{lineno}"
        yield where, [(": chosen", value[0]), (": rejected", value[1])] if key == "pair" else [("", value)]


def checked_layout(tok: MiniMindTokenizer, source: Path, key: str) -> ChatMLLayout | None:
    """The fast path when it gives masked_ids' ids on the probes and on the file's first rows, else None."""
    layout = ChatMLLayout.of(tok)
    if layout is None:
        return None
    head = [(where + side, c) for where, row in islice(conversations(source, key, True, None), CHECKED_ROWS)
            for side, c in row]
    probes = [(f"probe {i}", conv) for i, conv in enumerate(PROBES)] + head
    fast = [c for c in probes if layout.fits(c[1])]
    slow_encoder, quick_encoder = Encoder(tok, None), Encoder(tok, layout)
    try:
        slow = slow_encoder.encode([slow_encoder.item(where, conv) for where, conv in fast])
    except DataError:  # a bad row among the first: the build reports it where it is
        fast = fast[:len(PROBES)]
        slow = slow_encoder.encode([slow_encoder.item(where, conv) for where, conv in fast])
    quick = quick_encoder.encode([conv for _, conv in fast])
    if not (np.array_equal(quick.ids, slow.ids) and np.array_equal(quick.learn, slow.learn)):
        warn_once(f"{tok.name}'s chat template looks like ChatML but its ids differ from masked_ids': "
                  "tokenizing row by row (slower)")
        return None
    return layout


def build(source: Path, tok: MiniMindTokenizer, max_len: int, key: str, skip_bad: bool | None,
          cache: ChatCache, batch_rows: int) -> dict[str, Any]:
    """Write the three files; return the sidecar's counts and digests. A file of PARALLEL_BYTES or more is
    encoded by one worker process per core while this one reads, parses and writes."""
    start = time.perf_counter()
    per_row = 2 if key == "pair" else 1
    bad: list[str] | None = [] if skip_bad is not None else None
    layout = checked_layout(tok, source, key)
    settings = (max_len, per_row, skip_bad, bad is not None)
    encoder = Encoder(tok, layout, *settings)
    workers = os.cpu_count() or 1 if source.stat().st_size >= PARALLEL_BYTES else 1
    totals = {"rows": 0, "truncated": 0, "no_target": 0}
    tokens = 0
    bar = progress_bar(f"preparing {source.name}")
    with atomic_path(cache.path("ids")) as ids_tmp, atomic_path(cache.path("learn")) as learn_tmp, \
            atomic_path(cache.path("offsets")) as offsets_tmp, open(ids_tmp, "wb") as ids_out, \
            open(learn_tmp, "wb") as learn_out, open(offsets_tmp, "wb") as offsets_out, \
            bar or contextlib.nullcontext():
        task = bar.add_task("prepare", total=count_lines(source), rate="") if bar is not None else None
        offsets_out.write(np.zeros(1, np.int64).tobytes())

        def write(batch: Prepared) -> None:
            nonlocal tokens
            ids_out.write(batch.kept.ids.tobytes())
            learn_out.write(batch.kept.learn.astype(np.uint8).tobytes())
            offsets_out.write((tokens + np.cumsum(batch.kept.lengths)).tobytes())
            tokens += len(batch.kept.ids)
            for k, v in batch.counts.items():
                totals[k] += v
            if bad is not None:
                bad.extend(batch.bad)
            if bar is not None:
                rate = tokens / (time.perf_counter() - start)
                bar.update(task, advance=batch.read, rate=f"{rate / 1e6:.2f}M tokens/s")

        rows = batched(conversations(source, key, skip_bad, bad), batch_rows)
        if workers == 1:
            for batch in rows:
                write(encoder.prepare(batch))
        else:
            # fork where there is one: a spawned worker would import the caller's script again
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method),
                                     initializer=start_worker,
                                     initargs=(tok.tok.to_str(), tok.path, layout is not None, *settings)) as pool:
                pending: deque = deque()
                for batch in rows:
                    pending.append(pool.submit(prepare_in_worker, batch))
                    if len(pending) > 2 * workers:  # a bounded queue: memory stays flat
                        write(pending.popleft().result())
                while pending:
                    write(pending.popleft().result())
        if not totals["rows"]:
            require_targets(source, totals["no_target"], 0, max_len)  # raises when rows were all cut
            raise DataError(f"{source}: no valid rows (empty dataset)" + (f"; {len(bad)} bad lines" if bad else ""))
    meta = {"rows": totals["rows"], "conversations": totals["rows"] * per_row, "tokens": tokens,
            "truncated": totals["truncated"], "no_target": totals["no_target"], "bad_lines": bad or [],
            "dtype": np.dtype(encoder.dtype).name, "fast_path": layout is not None, "workers": workers,
            "seconds": round(time.perf_counter() - start, 3)}
    return {**meta, "digests": {part: content_digest(cache.path(part)) for part in ("ids", "learn", "offsets")}}


def check_chat_cache(cache: ChatCache) -> tuple[dict, str | None]:
    """(sidecar, None) when the files are what the sidecar describes, else (?, why not)."""
    try:
        meta = json.loads(cache.path("json").read_bytes())
        itemsize = np.dtype(meta["dtype"]).itemsize
        sizes = {"ids": meta["tokens"] * itemsize, "learn": meta["tokens"], "offsets": 8 * (meta["conversations"] + 1)}
        digests = meta["digests"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return {}, f"has an unreadable sidecar ({e})"
    for part, size in sizes.items():
        path = cache.path(part)
        if not path.is_file() or path.stat().st_size != size:
            return meta, f"has a {part} file of another size than its sidecar says (cut short or replaced)"
        if content_digest(path) != digests.get(part):
            return meta, f"has a {part} file that does not match its digest (altered)"
    return meta, None


def held_out_rows(n: int, limit: int = HELD_OUT_MAX) -> np.ndarray:
    """Which of n rows a run without --val_path holds out: 0.5% (at most 2,000, and at most `limit`, the rows an
    evaluation reads), evenly spaced through the file (files are often sorted by source or topic); none below
    200 rows."""
    k = min(HELD_OUT_MAX, limit, int(n * HELD_OUT_SHARE)) if n >= HELD_OUT_MIN_ROWS else 0
    return (2 * np.arange(k, dtype=np.int64) + 1) * n // (2 * k) if k else np.zeros(0, np.int64)


class ChatRows:
    """Rows of a prepared file, or a subset of them (a held-out split): what SFTDataset and DPODataset share."""

    key = "conversations"

    def __init__(self, path: str | os.PathLike, tokenizer: MiniMindTokenizer, max_seq_len: int = 512,
                 skip_bad: bool | None = None, *, cache: ChatCache | None = None,
                 rows: np.ndarray | None = None) -> None:
        self.cache = cache or prepare_chats(path, tokenizer, max_seq_len, self.key, skip_bad)
        self.rows = rows  # None: all
        self.tokenizer, self.max_seq_len, self.pad_id = tokenizer, max_seq_len, tokenizer.pad_token_id
        self.bad_lines, self.no_target = self.cache.meta["bad_lines"], self.cache.meta["no_target"]

    def __len__(self) -> int:
        return int(self.cache.meta["rows"]) if self.rows is None else len(self.rows)

    def row(self, i: int) -> int:
        return i if self.rows is None else int(self.rows[i])

    def split_held_out(self, limit: int = HELD_OUT_MAX) -> tuple[ChatRows, ChatRows | None]:
        """(training rows, held-out rows) for a run given only --data_path: see `held_out_rows`."""
        held = held_out_rows(len(self), limit)
        if not len(held):
            return self, None
        train = np.delete(np.arange(len(self), dtype=np.int64), held)
        return tuple(type(self)(self.cache.meta["source"], self.tokenizer, self.max_seq_len, cache=self.cache,
                                rows=rows) for rows in (train, held))


class SFTDataset(ChatRows):
    """Conversations -> (ids, labels) with assistant-only labels, read from the memory-mapped cache."""

    def example(self, i: int) -> SFTExample:
        return self.cache.example(self.row(i))

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        return pad_batch([self.example(i) for i in indices], self.pad_id)


class DPODataset(ChatRows):
    """Preference pairs -> chosen and rejected (ids, labels), same assistant-span masks."""

    key = "pair"

    def pair(self, i: int) -> tuple[SFTExample, SFTExample]:
        row = self.row(i)
        return self.cache.example(2 * row), self.cache.example(2 * row + 1)

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """(2B, T) ids and labels: the B chosen rows first, then the B rejected rows."""
        pairs = [self.pair(i) for i in indices]
        chosen, rejected = [c for c, _ in pairs], [r for _, r in pairs]
        return pad_batch(chosen + rejected, self.pad_id)
