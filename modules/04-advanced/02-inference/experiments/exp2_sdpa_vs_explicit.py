"""Inference exp2: the fused attention kernel (SDPA) against softmax(QK^T / sqrt(d)) V written out.

MiniMind's `Attention` has two paths (`config.flash_attn`): PyTorch's
`F.scaled_dot_product_attention` (SDPA), which on this CPU runs a fused, FlashAttention-style
kernel that walks over blocks of keys with a running softmax, and `explicit_attention`, which
materializes the (B, n_heads, T, T) score matrix, adds the causal mask and takes a softmax.

Two `Attention` modules of MiniMind2-small's shape (hidden 512, 8 query heads, 2 KV heads of dim
64) with the same weights run one forward pass (a prefill of T tokens, batch 1) at several
lengths. We measure:

- that their outputs agree;
- how many tensors the size of a score matrix each path writes, counted as they run;
- the time of the forward pass: CPU seconds of this process (time.process_time, one thread), the two
  paths interleaved round by round, median kept (reported: a busy machine still moves a timing);
- the peak of the memory allocated during the pass, replayed from the allocation events that
  `torch.profiler` records (profile_memory=True), against the size of one (B, nh, T, T) float32
  score matrix.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.lab.measure import interleaved_times, median_ratio, recorded_ops
from minimind_notes.model import Attention, preset
from minimind_notes.model.rope import precompute_freqs_cis

BATCH = 1


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2: the profiler's backend (Kineto) logs each start and stop there."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def peak_allocated(fn: Callable[[], object]) -> int:
    """Peak bytes allocated on the CPU while fn runs (and not freed before that peak).

    The profiler records every allocation and free with its size and time; replaying them in order
    gives the running total of memory the call holds, including temporaries inside fused kernels.
    """
    with quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    with tempfile.TemporaryDirectory() as tmp, quiet_stderr():
        path = Path(tmp) / "trace.json"
        prof.export_chrome_trace(str(path))
        events = [e for e in json.loads(path.read_text())["traceEvents"] if e.get("name") == "[memory]"]
    running = peak = 0
    for event in sorted(events, key=lambda e: e["ts"]):
        running += event["args"]["Bytes"]
        peak = max(peak, running)
    return peak


@torch.no_grad()
def measure(sdpa: Attention, explicit: Attention, t: int, rope: tuple[torch.Tensor, torch.Tensor],
            tries: int) -> dict:
    x = torch.randn(BATCH, t, sdpa.q_proj.in_features)  # (B, T, C)
    pe = (rope[0][:t], rope[1][:t])
    y_sdpa, y_explicit = sdpa(x, pe)[0], explicit(x, pe)[0]
    scores = BATCH * explicit.n_heads * t * t  # values in one (B, nh, T, T) score matrix
    row = {"diff": float((y_sdpa - y_explicit).abs().max()), "scale": float(y_explicit.abs().max()),
           "scores_bytes": 4 * scores}
    paths = {"sdpa": lambda: sdpa(x, pe), "explicit": lambda: explicit(x, pe)}
    for name, fn in paths.items():
        row[f"{name}_peak"] = peak_allocated(fn)
        row[f"{name}_tt_writes"] = sum(op.output_size == scores and op.allocates for op in recorded_ops(fn))
    rounds = interleaved_times(paths, tries, warmup=1, clock=time.process_time)
    for name in paths:
        row[f"{name}_s"] = statistics.median(r[name] for r in rounds)
    row["time_ratio"] = median_ratio(rounds, "explicit", "sdpa")[0]
    return row


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # one thread: timings comparable between the paths and steadier on a shared CPU
    lengths = [128, 256, 512, 1024] if ctx.quick else [128, 256, 512, 1024, 2048]
    tries = 3 if ctx.quick else 5
    config = preset("minimind2-small")
    sdpa = Attention(config).eval()
    explicit = Attention(preset("minimind2-small", flash_attn=False)).eval()
    explicit.load_state_dict(sdpa.state_dict())  # the same weights: only the path differs
    rope = precompute_freqs_cis(config.head_dim, max(lengths), config.rope_theta)
    ctx.log("Attention of MiniMind2-small: hidden {c}, {nh} query heads, {kv} KV heads of dim {hd}; batch {b}; "
            "prefill of T tokens; 1 CPU thread; time = CPU time of this process, median of {n} interleaved rounds.",
            "MiniMind2-small 的 Attention:hidden {c},{nh} 个 query 头,{kv} 个维度为 {hd} 的 KV 头;batch {b};"
            "一次性处理 T 个 token(prefill);单个 CPU 线程;时间按本进程的 CPU 时间计,取 {n} 轮交替计时的中位数。",
            c=config.hidden_size, nh=config.num_attention_heads, kv=config.num_key_value_heads, hd=config.head_dim,
            b=BATCH, n=tries)
    rows = {t: measure(sdpa, explicit, t, rope, tries) for t in lengths}
    ctx.metric("results", {str(t): r for t, r in rows.items()})
    mib = 2**20
    ctx.table({"en": "Attention forward, SDPA (flash_attn=True) vs explicit (flash_attn=False)",
               "zh": "Attention 前向:SDPA(flash_attn=True)与显式实现(flash_attn=False)"},
              ["T", "ms SDPA", "ms explicit", "explicit / SDPA time", "peak MiB SDPA", "peak MiB explicit",
               "one (B,nh,T,T) score MiB", "max |output diff|"],
              [[t, 1e3 * r["sdpa_s"], 1e3 * r["explicit_s"], r["time_ratio"], r["sdpa_peak"] / mib,
                r["explicit_peak"] / mib, r["scores_bytes"] / mib, r["diff"]] for t, r in rows.items()])
    findings(ctx, rows, lengths)
    plot(ctx, rows, lengths)


def findings(ctx: ExperimentContext, rows: dict, lengths: list[int]) -> None:
    worst = max(r["diff"] for r in rows.values())
    ctx.code_fact(
        "Same function, two implementations: the outputs differ by at most {d:.1e} (outputs up to {s:.2f}), "
        "float32 rounding from a different order of sums",
        "同一个函数,两种实现:输出最多相差 {d:.1e}(输出的量级最大 {s:.2f}),是求和顺序不同带来的 float32 舍入"
        "误差",
        Bar({"en": "largest difference at any length", "zh": "各长度下的最大差"}, worst, "<", 1e-4),
        d=worst, s=max(r["scale"] for r in rows.values()))
    hi, prev = lengths[-1], lengths[-2]
    r = rows[hi]
    extra = (r["explicit_peak"] - r["sdpa_peak"]) / r["scores_bytes"]
    g_exp = r["explicit_peak"] / rows[prev]["explicit_peak"]
    g_sdpa = r["sdpa_peak"] / rows[prev]["sdpa_peak"]
    ctx.metric("extra_score_matrices", extra)
    ctx.metric("peak_growth", [g_exp, g_sdpa])  # explicit, SDPA: T doubled
    ctx.finding(
        "Memory: at T = {t} the explicit path peaks at {e:.1f} MiB vs {f:.1f} MiB for SDPA; the difference is "
        "{x:.1f} score matrices of {m:.1f} MiB each, alive at the same time. Doubling T from {p} multiplies the "
        "explicit peak by {ge:.2f} (the T x T part takes over) and SDPA's by {gs:.2f} (only T x C tensors)",
        "内存:T = {t} 时,显式实现的峰值为 {e:.1f} MiB,SDPA 为 {f:.1f} MiB;差出来的部分相当于 {x:.1f} 个同时"
        "存在的分数矩阵,每个 {m:.1f} MiB。T 从 {p} 翻倍后,显式实现的峰值乘以 {ge:.2f}(T x T 的部分占了主导),"
        "SDPA 乘以 {gs:.2f}(只有 T x C 的张量)",
        [Bar({"en": "extra peak in score matrices", "zh": "多出的峰值(分数矩阵个数)"}, extra, ">=", 1),
         Bar({"en": "explicit peak growth", "zh": "显式实现峰值的增长倍数"}, g_exp, ">", 3),
         Bar({"en": "SDPA peak growth", "zh": "SDPA 峰值的增长倍数"}, g_sdpa, "<", 2.5)],
        t=hi, e=r["explicit_peak"] / 2**20, f=r["sdpa_peak"] / 2**20,
        x=extra, m=r["scores_bytes"] / 2**20, p=prev, ge=g_exp, gs=g_sdpa)
    speed = {t: rows[t]["time_ratio"] for t in lengths}
    ctx.code_fact(
        "Writes: the explicit path writes {w} tensors the size of the whole T x T score matrix (the masked half "
        "included) and reads them back for the softmax; the fused kernel writes {w0}: it goes through the keys "
        "block by block with a running softmax (counted as they ran, at every length)",
        "写入:显式实现要写出 {w} 个和整个 T x T 分数矩阵(包括被掩码遮住的那一半)一样大的张量,再读回来做 "
        "softmax;融合 kernel 写出 {w0} 个:它按块遍历 key,边走边更新 softmax(每个长度下运行时计数)",
        [Bar({"en": "fewest score-sized writes, explicit", "zh": "显式实现分数矩阵大小的写入(最少)"},
             min(rows[t]["explicit_tt_writes"] for t in lengths), ">=", 2),
         Bar({"en": "most score-sized writes, SDPA", "zh": "SDPA 分数矩阵大小的写入(最多)"},
             max(rows[t]["sdpa_tt_writes"] for t in lengths), "<=", 0)],
        w=rows[hi]["explicit_tt_writes"], w0=rows[hi]["sdpa_tt_writes"])
    ctx.log("Those writes cost time: the explicit path took {a:.1f}x SDPA's CPU time at T = {lo} and {b:.1f}x "
            "at T = {hi} (median of interleaved rounds; reported, not checked: other processes move a timing)",
            "这些写入要花时间:T = {lo} 时显式实现的 CPU 时间是 SDPA 的 {a:.1f} 倍,T = {hi} 时是 {b:.1f} 倍"
            "(交替多轮的中位数;只报告、不作检验:其他进程会影响耗时)", a=speed[lengths[0]], b=speed[hi],
            lo=lengths[0], hi=hi)


def plot(ctx: ExperimentContext, rows: dict, lengths: list[int]) -> None:
    plt = ctx.plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, style in (("sdpa", "o-"), ("explicit", "s--")):
        left.plot(lengths, [1e3 * rows[t][f"{name}_s"] for t in lengths], style, label=name)
        right.plot(lengths, [rows[t][f"{name}_peak"] / 2**20 for t in lengths], style, label=f"{name} peak")
    right.plot(lengths, [rows[t]["scores_bytes"] / 2**20 for t in lengths], ":", color="grey",
               label="one (B, nh, T, T) float32 score matrix")
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length T")
        ax.legend()
    left.set_ylabel("CPU milliseconds per forward (1 thread)")
    right.set_ylabel("peak memory allocated during forward, MiB")
    fig.suptitle("Fused SDPA vs explicit softmax attention (MiniMind2-small shape, batch 1)")
    ctx.savefig(fig, "sdpa_vs_explicit.png")


if __name__ == "__main__":
    main(__file__)
