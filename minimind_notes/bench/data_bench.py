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
from minimind_notes.errors import MiniMindError


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


@dataclass
class ChatDataBench:
    """`minimind data prepare --stage sft|dpo` on a cold cache, then `minimind train` with it warm, each in a
    fresh process (so start-up, imports and memory are what a user gets)."""
    stage: str
    rows: int
    tokens: int
    truncated: int
    source_mb: float
    workers: int
    build_s: float  # wall time of the whole preparation command
    build_cpu_s: float  # its CPU time, workers included: what a busy machine cannot hide
    peak_memory_mb: float  # the command and its workers: the peak of their proportional set sizes added up
    first_step_s: float  # `minimind train` with the cache warm: command to the end of step 1 (and its save)
    first_step_cpu_s: float  # its CPU time

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.build_s

    @property
    def tokens_per_cpu_s(self) -> float:
        return self.tokens / self.build_cpu_s


def tree_memory_mb(pid: int) -> float:
    """Memory of a process and its descendants (Linux /proc; 0 elsewhere): their proportional set sizes, so the
    pages forked workers share with their parent count once, not once a process."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            pss = next((int(line.split()[1]) for line in f if line.startswith("Pss:")), 0) / 1024
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
    except (OSError, ValueError):
        return 0.0
    return pss + sum(tree_memory_mb(c) for c in children)


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """(wall s, CPU s with its children, peak memory MB of its process tree, output) of a command; the peak is
    sampled every 50 ms, and never below the largest resident set of a single process the kernel reports."""
    import os
    import subprocess
    import threading

    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak, done = [0.0], threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], tree_memory_mb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise MiniMindError(f"`{' '.join(cmd[2:])}` failed (exit {proc.returncode}):\n{output[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, max(peak[0], usage.ru_maxrss / 1024), output


def bench_chat_data(source: Path, stage: str, max_seq_len: int, tokenizer: str | None = None) -> ChatDataBench:
    """One cold preparation and one warm start of `minimind train STAGE`, in a fresh cache folder."""
    import os
    import sys
    import tempfile

    from minimind_notes.data.chat_cache import prepare_chats

    tok_args = ["--tokenizer", tokenizer] if tokenizer else []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MINIMIND_CACHE": str(Path(tmp) / "cache"), "MINIMIND_HOME": str(Path(tmp) / "home")}
        cli = [sys.executable, "-m", "minimind_notes"]
        build_s, build_cpu_s, peak_mb, _ = run_measured(
            [*cli, "data", "prepare", str(source), "--stage", stage, "--max-seq-len", str(max_seq_len), *tok_args], env)
        first_s, first_cpu_s, _, _ = run_measured(
            [*cli, "train", stage, "--data_path", str(source), "--max_seq_len", str(max_seq_len), "--max_steps", "1",
             "--from_weight", "none", "--preset", "tiny", "--save_dir", str(Path(tmp) / "out"), "--eval_batches", "1",
             "--time_budget", "0", *tok_args], env)
        key = "pair" if stage == "dpo" else "conversations"  # the counts: read back from the cache just built
        meta = prepare_chats(source, MiniMindTokenizer.from_dir(tokenizer), max_seq_len, key,
                             out_dir=Path(env["MINIMIND_CACHE"])).meta
    return ChatDataBench(stage, meta["rows"], meta["tokens"], meta["truncated"], source.stat().st_size / 1e6,
                         meta["workers"], build_s, build_cpu_s, peak_mb, first_s, first_cpu_s)
