"""How fast `minimind data prepare` runs, next to the ceiling it cannot beat: the same documents
through its batch encoder alone (tiktoken's twin of the BPE where it applies), with nothing read,
packed or written; and through `tokenizers`' own batch encoder, which gives the same ids."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from minimind_notes.data.pretokenize import iter_documents, prepare
from minimind_notes.data.tokenizer import MiniMindTokenizer


@dataclass
class DataBench:
    documents: int
    tokens: int
    source_mb: float
    prepare_s: float  # best of the repeats: a full build into a fresh cache
    encode_s: float  # best of the repeats: encode_batch over all documents, nothing else
    hf_encode_s: float  # the same through tokenizers' encode_batch_fast
    engine: str  # what encode_batch ran, e.g. "tiktoken 0.14.0"

    @property
    def prepare_tokens_per_s(self) -> float:
        return self.tokens / self.prepare_s

    @property
    def encode_tokens_per_s(self) -> float:
        return self.tokens / self.encode_s

    @property
    def hf_encode_tokens_per_s(self) -> float:
        return self.tokens / self.hf_encode_s


def bench_data(source: Path, tok: MiniMindTokenizer, repeats: int = 3) -> DataBench:
    """Best-of-`repeats` times (a shared machine only ever makes a run slower)."""
    docs = list(iter_documents(source))  # read once: the encoder-alone runs time nothing but encoding
    prepare_times, encode_times, hf_times = [], [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            packed = prepare(source, tok, out_dir=Path(tmp))  # a fresh cache: always a full build
        prepare_times.append(packed.meta["seconds"])
        start = time.perf_counter()
        tok.encode_batch(docs)
        encode_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        tok.hf_encode_batch(docs)
        hf_times.append(time.perf_counter() - start)
    return DataBench(packed.meta["documents"], len(packed), source.stat().st_size / 1e6,
                     min(prepare_times), min(encode_times), min(hf_times), tok.bulk_engine)
