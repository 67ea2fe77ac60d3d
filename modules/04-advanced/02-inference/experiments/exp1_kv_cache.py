"""Inference exp1: what the KV cache buys, and what it costs.

The real MiniMindForCausalLM at the `tiny` preset (hidden 192, 2 layers, 8 query heads sharing 2
KV heads of dim 24; random weights: speed and memory do not depend on training) generates greedily
from an 8-token prompt with `minimind_notes.model.generate`, once with the KV cache
(`use_cache=True`: each step feeds one token and attends to the stored keys and values) and once
without (each step re-runs the whole sequence so far).

(a) Cost: the matmul FLOPs of generating several lengths and of one step after contexts of different
    lengths, counted (torch.utils.flop_counter), and the same timed: tokens per second and ms per step.
    Times are CPU seconds of this process (time.process_time, one thread), so other programs on a
    shared machine do not inflate them much; still, the counts are checked and the times reported.
(b) Correctness: the two modes must produce the same tokens, and the step-by-step cached logits must
    equal one full forward pass over the same sequence up to float32 rounding.
(c) Memory: the bytes of the returned cache tuples, (B, T, n_kv, head_dim) per layer for K and for V,
    against the formula 2 x layers x n_kv x head_dim x bytes x tokens.
"""

from __future__ import annotations

import time

import torch

from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.lab.measure import counted_flops
from minimind_notes.model import MiniMindConfig, MiniMindForCausalLM, SamplingConfig, preset, stream_generate

PROMPT = 8


def timed_generation(model: MiniMindForCausalLM, prompt: torch.Tensor, new_tokens: int,
                     use_cache: bool) -> dict:
    """Greedy generation of new_tokens: the tokens, tokens per CPU second of this process, and the
    matmul FLOPs of a second, counted run."""
    cfg = SamplingConfig(max_new_tokens=new_tokens, temperature=0, eos_token_id=None)
    generation = lambda: [int(t[0]) for t in stream_generate(model, prompt, cfg=cfg, use_cache=use_cache)]
    start = time.process_time()
    tokens = generation()
    return {"tokens": tokens, "tok_s": new_tokens / (time.process_time() - start), "flops": counted_flops(generation)}


@torch.no_grad()
def step_seconds(model: MiniMindForCausalLM, ids: torch.Tensor, contexts: list[int], reps: int,
                 rounds: int = 3) -> dict:
    """The cost of producing one more token after `context` tokens: with the cache (one token in, the
    context's K and V already stored) and without (all context + 1 tokens in again): its matmul FLOPs,
    counted, and its time.

    CPU time of this process, fastest of rounds x reps tries, the contexts interleaved round by round,
    so that what is left of a busy machine's noise (cache misses, frequency changes) hits all alike.
    """
    calls = {}
    for t in contexts:
        past = model(ids[:, :t], use_cache=True).past_key_values
        calls[t, "cache"] = lambda t=t, past=past: model(ids[:, t:t + 1], past_key_values=past, use_cache=True,
                                                         logits_to_keep=1)
        calls[t, "no cache"] = lambda t=t: model(ids[:, :t + 1], logits_to_keep=1)
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for key, fn in calls.items():
            for _ in range(reps):
                start = time.process_time()
                fn()
                best[key] = min(best[key], time.process_time() - start)
    return {key: {"seconds": best[key], "flops": counted_flops(fn)} for key, fn in calls.items()}


@torch.no_grad()
def cached_vs_full_logits(model: MiniMindForCausalLM, ids: torch.Tensor) -> float:
    """Max |logit difference| between feeding ids one token at a time with the cache and one full pass."""
    full = model(ids).logits  # (1, T, V)
    out = model(ids[:, :PROMPT], use_cache=True)
    steps = [out.logits]
    for t in range(PROMPT, ids.shape[1]):
        out = model(ids[:, t:t + 1], past_key_values=out.past_key_values, use_cache=True)
        steps.append(out.logits)
    return float((torch.cat(steps, dim=1) - full).abs().max())


def cache_formula(config: MiniMindConfig, tokens: int, bytes_per_value: int, batch: int = 1) -> int:
    """2 (K and V) x layers x KV heads x head_dim x bytes x tokens x batch."""
    per_value = 2 * config.num_hidden_layers * config.num_key_value_heads * config.head_dim
    return per_value * bytes_per_value * tokens * batch


@torch.no_grad()
def measured_cache(model: MiniMindForCausalLM, ids: torch.Tensor) -> tuple[int, tuple[int, ...]]:
    """Bytes of every K and V tensor the model returns for ids, and the shape of layer 0's K."""
    past = model(ids, use_cache=True).past_key_values
    return sum(k.nbytes + v.nbytes for k, v in past), tuple(past[0][0].shape)


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # one thread: steadier timings on a shared CPU, and the same for both modes
    config = preset("tiny")
    model = MiniMindForCausalLM(config).eval()
    prompt = torch.randint(0, config.vocab_size, (1, PROMPT))
    lengths = [64, 128, 256] if ctx.quick else [64, 128, 256, 512]
    ctx.log("tiny preset: hidden {h}, {l} layers, {nh} query heads, {kv} KV heads of dim {hd}; {p:,} parameters; "
            "greedy from a {n}-token prompt, 1 CPU thread, times in CPU seconds of this process.",
            "tiny 预设:hidden {h},{l} 层,{nh} 个 query 头,{kv} 个维度为 {hd} 的 KV 头;{p:,} 个参数;"
            "从 {n} 个 token 的提示开始贪心生成,单个 CPU 线程,时间按本进程占用的 CPU 秒数计。",
            h=config.hidden_size, l=config.num_hidden_layers, nh=config.num_attention_heads,
            kv=config.num_key_value_heads, hd=config.head_dim,
            p=model.num_parameters(), n=PROMPT)

    runs = {}
    for n in lengths:
        runs[n] = {mode: timed_generation(model, prompt, n, mode == "cache") for mode in ("cache", "no cache")}
    speed = {n: r["cache"]["tok_s"] / r["no cache"]["tok_s"] for n, r in runs.items()}
    same = {n: r["cache"]["tokens"] == r["no cache"]["tokens"] for n, r in runs.items()}
    saved = {n: r["no cache"]["flops"] / r["cache"]["flops"] for n, r in runs.items()}
    ctx.metric("flop_ratio", [saved[n] for n in lengths])  # without / with the cache, per length
    ctx.metric("tok_s", {f"{n}_{mode}": r[mode]["tok_s"] for n, r in runs.items() for mode in r})
    ctx.metric("generation_matmul_flops", {f"{n}_{mode}": r[mode]["flops"] for n, r in runs.items() for mode in r})
    ctx.table({"en": "(a, b) Greedy generation with and without the KV cache",
               "zh": "(a, b) 带与不带 KV cache 的贪心生成"},
              ["new tokens", "tokens/s with cache", "tokens/s without", "speed-up", "matmul FLOPs without / with",
               "same tokens"],
              [[n, runs[n]["cache"]["tok_s"], runs[n]["no cache"]["tok_s"], speed[n], saved[n], same[n]]
               for n in lengths])

    longest = lengths[-1]
    sequence = torch.cat([prompt, torch.tensor([runs[longest]["cache"]["tokens"]])], dim=1)
    logit_gap = ctx.metric("max_logit_difference", cached_vs_full_logits(model, sequence))

    contexts = [PROMPT] + lengths
    steps = step_seconds(model, sequence, contexts, reps=4 if ctx.quick else 8)
    ctx.metric("step_ms", {f"{t}_{mode}": 1e3 * v["seconds"] for (t, mode), v in steps.items()})
    ctx.metric("step_matmul_flops", {f"{t}_{mode}": v["flops"] for (t, mode), v in steps.items()})
    ctx.table({"en": "(a) One decoding step after a context of T tokens: matmul FLOPs (counted) and time (fastest "
                     "of several tries)",
               "zh": "(a) 在 T 个 token 的上下文之后解码一步:矩阵乘法 FLOPs(计数)与耗时(多次尝试取最快)"},
              ["context T", "MFLOPs with cache", "MFLOPs without", "ms with cache (1 token in)",
               "ms without (T + 1 tokens in)", "time ratio"],
              [[t, steps[t, "cache"]["flops"] / 1e6, steps[t, "no cache"]["flops"] / 1e6,
                1e3 * steps[t, "cache"]["seconds"], 1e3 * steps[t, "no cache"]["seconds"],
                steps[t, "no cache"]["seconds"] / steps[t, "cache"]["seconds"]] for t in contexts])

    sizes = []
    for n in lengths:
        measured, shape = measured_cache(model, sequence[:, :PROMPT + n])
        sizes.append({"tokens": PROMPT + n, "measured": measured, "formula": cache_formula(config, PROMPT + n, 4),
                      "shape": shape})
    ctx.metric("cache_bytes", {s["tokens"]: s["measured"] for s in sizes})
    ctx.table({"en": "(c) KV cache size in float32 (batch 1)", "zh": "(c) float32 下的 KV cache 大小(batch 1)"},
              ["tokens", "layer 0 K shape (B, T, n_kv, hd)", "measured bytes", "formula bytes", "bytes per token"],
              [[s["tokens"], str(s["shape"]), s["measured"], s["formula"], s["measured"] // s["tokens"]]
               for s in sizes])

    findings(ctx, config, model, runs, speed, saved, same, logit_gap, sizes)
    findings_steps(ctx, steps, contexts)
    plot(ctx, runs, lengths, steps, contexts)


def findings(ctx: ExperimentContext, config: MiniMindConfig, model: MiniMindForCausalLM, runs: dict, speed: dict,
             saved: dict, same: dict, logit_gap: float, sizes: list[dict]) -> None:
    lo, hi = min(runs), max(runs)
    ctx.code_fact(
        "Generating {hi} tokens without the cache costs {f:.1f}x the matmul FLOPs of generating them with it, "
        "{f0:.1f}x for {lo} tokens: the longer the generation, the more the cache saves (counted: it follows from "
        "the shapes). Timed, the cache ran at {c:.0f} tokens/s vs {u:.0f} without, {s:.1f}x faster, and {s0:.1f}x "
        "for {lo} tokens (one timed run each; reported, not checked: other processes move a timing)",
        "不用 cache 生成 {hi} 个 token 的矩阵乘法 FLOPs 是用 cache 时的 {f:.1f} 倍,生成 {lo} 个 token 时是 "
        "{f0:.1f} 倍:生成得越长,cache 省得越多(计数:由形状决定)。"
        "计时:有 cache 时 {c:.0f} tokens/s,没有时 {u:.0f},快 {s:.1f} 倍;{lo} 个 token 时快 {s0:.1f} 倍"
        "(每种只计时一次;只报告、不作检验:其他进程会影响耗时)",
        saved[hi] > 2 and saved[hi] > saved[lo], hi=hi, lo=lo, f=saved[hi], f0=saved[lo],
        c=runs[hi]["cache"]["tok_s"], u=runs[hi]["no cache"]["tok_s"], s=speed[hi], s0=speed[lo])
    ctx.code_fact(
        "The cache changes the cost, not the result: the greedy tokens are identical at every length ({ok}), and "
        "feeding {t} tokens one at a time through the cache gives the logits of one full pass to within {g:.1e} "
        "(float32 rounding: the sums run in a different order)",
        "cache 改变的是开销,不是结果:每个长度下贪心生成的 token 完全相同({ok_zh}),把 {t} 个 token 借助 cache "
        "逐个喂入,得到的 logits 与一次完整前向相差不超过 {g:.1e}(float32 舍入误差:求和顺序不同)",
        [Bar({"en": "lengths whose greedy tokens differ", "zh": "贪心 token 不同的长度数"},
             sum(not v for v in same.values()), "<=", 0),
         Bar({"en": "largest logit difference", "zh": "logits 的最大差"}, logit_gap, "<", 1e-4)],
        ok="yes" if all(same.values()) else "no",
        ok_zh="是" if all(same.values()) else "否", t=PROMPT + hi, g=logit_gap)
    per_token = cache_formula(config, 1, 4)
    weights = 4 * model.num_parameters()
    ctx.code_fact(
        "Cache size: the tensors returned hold exactly 2 x {l} layers x {kv} KV heads x {hd} dims x 4 bytes = "
        "{pt:,} bytes per token at every length ({t0} tokens: {m0:,} bytes; {t1} tokens: {m1:,}). It grows "
        "linearly and per sequence: the {w:,} bytes of float32 weights equal the cache of {x:,} tokens at batch "
        "1, or {y:,} tokens each at batch 32 (the returned bytes equal the formula at every length)",
        "cache 大小:返回的张量恰好是 2 x {l} 层 x {kv} 个 KV 头 x {hd} 维 x 4 字节 = 每个 token {pt:,} 字节,"
        "每个长度下都一样({t0} 个 token:{m0:,} 字节;{t1} 个 token:{m1:,} 字节)。它随长度线性增长,而且"
        "每条序列各有一份:{w:,} 字节的 float32 权重,相当于 batch 1 时 {x:,} 个 token 的 cache,或 batch 32 "
        "时每条 {y:,} 个 token(每个长度下返回的字节数都等于公式)",
        all(s["measured"] == s["formula"] for s in sizes), l=config.num_hidden_layers, kv=config.num_key_value_heads,
        hd=config.head_dim, pt=per_token, t0=sizes[0]["tokens"], m0=sizes[0]["measured"], t1=sizes[-1]["tokens"],
        m1=sizes[-1]["measured"], w=weights, x=weights // per_token, y=weights // (32 * per_token))


def findings_steps(ctx: ExperimentContext, steps: dict, contexts: list[int]) -> None:
    lo, hi = contexts[0], contexts[-1]
    flops = {key: v["flops"] for key, v in steps.items()}
    sec = {key: v["seconds"] for key, v in steps.items()}
    grow = flops[hi, "no cache"] / flops[lo, "no cache"]
    ctx.metric("cached_step_mflops", flops[hi, "cache"] / 1e6)
    # Extra time per token of context; a cached step's is so small that noise can make it negative: clamp at 0.
    per_token = {mode: max(0.0, (sec[hi, mode] - sec[lo, mode]) / (hi - lo)) for mode in ("cache", "no cache")}
    less = per_token["no cache"] / max(per_token["cache"], 1e-12)
    ctx.code_fact(
        "Why: without the cache a step re-runs every position, so its matmul FLOPs grow {gu:.1f}x from a context "
        "of {lo} tokens to {hi}; with it the step runs one position: {c0:.1f} and {c1:.1f} MFLOPs (the attention "
        "over the cache is not in this count, which covers the projections and the MLP; counted: it follows from the "
        "shapes). Timed: {tc0:.1f} ms with the cache and {tu0:.1f} ms without after {lo} tokens, {tc1:.1f} vs "
        "{tu1:.1f} ms after {hi}; each token of context adds {du:.3f} ms without the cache "
        "and {dc:.4f} ms with it (attending to, and copying, a longer cache), {r} less (reported, not checked)",
        "原因:没有 cache 时每一步都要把所有位置重算一遍,所以上下文从 {lo} 个 token 增加到 {hi} 个时,一步的矩阵"
        "乘法 FLOPs 增长 {gu:.1f} 倍;有 cache 时只算一个位置:{c0:.1f} 和 {c1:.1f} MFLOPs(这个计数包括投影和 MLP,"
        "不含对 cache 的 attention;计数:由形状决定)。计时:{lo} 个 token 之后,"
        "有 cache {tc0:.1f} ms,没有 {tu0:.1f} ms;{hi} 个 token 之后 {tc1:.1f} 对 {tu1:.1f} ms;上下文每多一个 token,"
        "没有 cache 多 {du:.3f} ms,有 cache 只多 {dc:.4f} ms(对更长的 cache 做 attention 并拷贝它),少 {r_zh}"
        "(只报告、不作检验)",
        grow > 2.5 and flops[hi, "cache"] == flops[lo, "cache"], lo=lo, hi=hi, gu=grow,
        c0=flops[lo, "cache"] / 1e6, c1=flops[hi, "cache"] / 1e6, tc0=1e3 * sec[lo, "cache"],
        tu0=1e3 * sec[lo, "no cache"], tc1=1e3 * sec[hi, "cache"], tu1=1e3 * sec[hi, "no cache"],
        du=1e3 * per_token["no cache"], dc=1e3 * per_token["cache"], r=f"{less:.0f}x" if less < 1000 else "over 1000x",
        r_zh=f"{less:.0f} 倍" if less < 1000 else "1000 倍以上")


def plot(ctx: ExperimentContext, runs: dict, lengths: list[int], steps: dict, contexts: list[int]) -> None:
    plt = ctx.plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for mode, style in (("cache", "o-"), ("no cache", "s--")):
        left.plot(lengths, [runs[n][mode]["tok_s"] for n in lengths], style, label=mode)
        right.plot(contexts, [1e3 * steps[t, mode]["seconds"] for t in contexts], style, label=mode)
    left.set_xscale("log", base=2)
    left.set_xlabel(f"new tokens generated (after a {PROMPT}-token prompt)")
    left.set_ylabel("tokens per CPU second")
    left.legend()
    right.set_xlabel("context length T before the step")
    right.set_ylabel("CPU milliseconds for one more token")
    right.legend()
    fig.suptitle("KV cache: one new token per step instead of the whole sequence")
    ctx.savefig(fig, "kv_cache.png")


if __name__ == "__main__":
    main(__file__)
