"""Attention exp3: what multiple heads learn, and what GQA saves in the KV cache.

(a) A small MiniMind model (hidden 64, 2 layers, 4 query heads of 16 sharing 2 KV heads) is
trained briefly on byte-level text from the embedded corpus. Before and after training we read
every head's attention weights on the same held-out windows (`output_attentions=True`) and
measure, per head: the mean attention distance sum_j w_ij (i - j), the entropy of each
query's weights, and the share of weight on the previous byte; and per layer, how differently
two heads spread the same query's weight (total-variation distance, 0 = identical, 1 = disjoint).
At initialization the weights are tiny, every head attends almost uniformly and all heads look
alike; after training they specialise, which is the point of having several softmaxes per layer.

(b) During generation the model keeps the keys and values of every past token: the KV cache.
Its size per token is 2 (K and V) x layers x KV heads x head_dim x bytes per value. We compute
it for the three MiniMind2 sizes with MHA (8 KV heads), GQA (2, MiniMind2's choice) and MQA (1),
and measure it: the real model class runs in bf16 with each size's number of layers and head
layout, a prompt goes through with `use_cache=True`, and we add up the bytes of the returned
`past_key_values`. To keep this fast the vocabulary and FFN are shrunk and all layers share one
block's weights; none of that changes the cache's shape."""

from __future__ import annotations

import torch
from torch import nn

from minimind_notes.lab.byte_lm import ByteBatches, corpus_text, eval_loss, train_lm
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.model import MiniMindConfig, MiniMindForCausalLM, preset

SEQ = 64  # training and evaluation window (bytes)
SMALL = dict(vocab_size=256, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=SEQ)
PRESETS = ["minimind2-small", "minimind2", "minimind2-moe"]
LAYOUTS = {"MHA": 8, "GQA": 2, "MQA": 1}  # KV heads; 8 query heads in every MiniMind2 size
CONTEXT, BF16_BYTES, PROMPT = 2048, 2, 16


# -- (a) per-head attention statistics -------------------------------------------------------
@torch.no_grad()
def attention_maps(model: MiniMindForCausalLM, ids: torch.Tensor) -> list[torch.Tensor]:
    return model(ids, output_attentions=True).attentions  # per layer (B, nh, T, T)


def head_stats(attentions: list[torch.Tensor]) -> list[dict]:
    """One dict per (layer, head): mean distance, entropy and previous-token share of its weights."""
    pos = torch.arange(attentions[0].shape[-1])
    distance = (pos[:, None] - pos[None, :]).clamp_min(0).float()  # (T, T): how far back key j is
    stats = []
    for layer, w in enumerate(attentions):
        w = w[:, :, 1:]  # skip query 0: it can only attend to itself
        dist = (w * distance[1:]).sum(-1).mean((0, 2))  # (nh,)
        entropy = -(w * w.clamp_min(1e-30).log()).sum(-1).mean((0, 2))  # (nh,)
        prev = w[:, :, pos[:-1], pos[:-1]].mean((0, 2))  # (nh,): query i+1 on key i
        stats += [{"layer": layer, "head": h, "distance": float(dist[h]), "entropy": float(entropy[h]),
                   "prev": float(prev[h])} for h in range(w.shape[1])]
    return stats


def head_disagreement(attentions: list[torch.Tensor]) -> list[float]:
    """Per layer: total-variation distance between two heads' weights for the same query,
    0.5 * sum_j |w_a(i, j) - w_b(i, j)|, averaged over queries and head pairs (0 = same, 1 = disjoint)."""
    per_layer = []
    for w in attentions:  # (B, nh, T, T)
        w = w[:, :, 1:]  # skip query 0: every head puts all its weight on key 0 there
        nh = w.shape[1]
        pairs = [(a, b) for a in range(nh) for b in range(a + 1, nh)]
        tv = [0.5 * float((w[:, a] - w[:, b]).abs().sum(-1).mean()) for a, b in pairs]
        per_layer.append(sum(tv) / len(tv))
    return per_layer


def spread(stats: list[dict], key: str, layer: int | None = None) -> float:
    values = [s[key] for s in stats if layer is None or s["layer"] == layer]
    return max(values) - min(values)


def train_heads(ctx: ExperimentContext) -> dict:
    steps = 200 if ctx.quick else 400
    model = MiniMindForCausalLM(MiniMindConfig(**SMALL))
    val = ByteBatches(corpus_text("val")).fixed(32, SEQ)  # (32, T): the same windows before and after
    maps_before, loss_before = attention_maps(model, val), eval_loss(model, val)
    log = train_lm(model, ByteBatches(corpus_text("train"), seed=ctx.seed), steps, batch_size=16,
                   seq_len=SEQ, lr=3e-3, precision=ctx.precision)
    maps_after, loss_after = attention_maps(model, val), eval_loss(model, val)
    return {"steps": steps, "before": head_stats(maps_before), "after": head_stats(maps_after),
            "tv_before": head_disagreement(maps_before), "tv_after": head_disagreement(maps_after),
            "loss_before": loss_before, "loss_after": loss_after, "losses": log.losses,
            "example": [w[0, :, :32, :32] for w in maps_after]}  # window 0, first 32 bytes


# -- (b) KV-cache size ---------------------------------------------------------------------------
def cache_formula(config: MiniMindConfig, bytes_per_value: int = BF16_BYTES) -> int:
    """Bytes per token: K and V, for every layer, KV head and head dimension."""
    return 2 * config.num_hidden_layers * config.num_key_value_heads * config.head_dim * bytes_per_value


def cache_bytes(past_key_values: list[tuple[torch.Tensor, torch.Tensor]]) -> int:
    return sum(t.numel() * t.element_size() for kv in past_key_values for t in kv)


def cache_model(config: MiniMindConfig) -> MiniMindForCausalLM:
    """The real model class in bf16 with config's layers. The cache's size does not depend on the
    weights, so to build it fast every layer is the same block object (its own K, V per layer)."""
    model = MiniMindForCausalLM(config.replace(num_hidden_layers=1))
    model.model.layers = nn.ModuleList([model.model.layers[0]] * config.num_hidden_layers)
    return model.to(torch.bfloat16).eval()


@torch.no_grad()
def measure_cache(config: MiniMindConfig) -> tuple[int, int, str]:
    """Run the model in bf16: cache bytes after a prompt of PROMPT tokens, and after one more."""
    model = cache_model(config)
    assert len(model.model.layers) == config.num_hidden_layers
    ids = torch.randint(0, config.vocab_size, (1, PROMPT + 1))
    out = model(ids[:, :PROMPT], use_cache=True)  # prefill: K, V of PROMPT tokens in every layer
    step = model(ids[:, PROMPT:], past_key_values=out.past_key_values, use_cache=True)  # one decoding step
    dtype = str(out.past_key_values[0][0].dtype).removeprefix("torch.")
    return cache_bytes(out.past_key_values), cache_bytes(step.past_key_values), dtype


def kv_cache_table() -> list[dict]:
    rows = []
    for name in PRESETS:
        for layout, kv_heads in LAYOUTS.items():
            full = preset(name, num_key_value_heads=kv_heads)  # the real sizes, for the formula
            # Same layers, heads and head_dim; small vocabulary and FFN: cheap to build, same cache.
            small = preset(name, num_key_value_heads=kv_heads, vocab_size=256, intermediate_size=64,
                           max_position_embeddings=64)
            prompt_bytes, next_bytes, dtype = measure_cache(small)
            rows.append({"model": name, "layout": layout, "kv_heads": kv_heads,
                         "layers": full.num_hidden_layers, "head_dim": full.head_dim,
                         "formula": cache_formula(full), "prompt_bytes": prompt_bytes,
                         "measured": prompt_bytes // PROMPT,
                         "step_growth": next_bytes - prompt_bytes, "dtype": dtype,
                         "mib_at_context": cache_formula(full) * CONTEXT / 2**20})
    return rows


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # tiny matrices: on a busy CPU a second thread made steps several times slower
    ctx.log("(a) MiniMind with hidden 64, 2 layers x 4 heads (head_dim 16, 2 KV heads), byte-level text.",
            "(a) MiniMind:hidden 64,2 层 x 4 个头(head_dim 16,2 个 KV 头),字节级文本。")
    heads = train_heads(ctx)
    before, after = heads["before"], heads["after"]
    ctx.metric("val_loss_before", heads["loss_before"])
    ctx.metric("val_loss_after", heads["loss_after"])
    ctx.metric("head_stats_init", before)
    ctx.metric("head_stats_trained", after)
    ctx.metric("head_disagreement_init", heads["tv_before"])
    ctx.metric("head_disagreement_trained", heads["tv_after"])
    ctx.table({"en": f"Per-head attention on 32 held-out windows of {SEQ} bytes: init -> after "
                     f"{heads['steps']} steps",
               "zh": f"每个头在 32 个 {SEQ} 字节验证窗口上的注意力:初始化 -> 训练 {heads['steps']} 步后"},
              ["layer", "head", "distance init", "distance trained", "entropy init", "entropy trained",
               "prev-token init", "prev-token trained"],
              [[b["layer"], b["head"], b["distance"], a["distance"], b["entropy"], a["entropy"], b["prev"],
                a["prev"]] for b, a in zip(before, after, strict=True)])

    ctx.log("(b) KV cache: the real model in bf16 with each MiniMind2 size's layers and head layout.",
            "(b) KV 缓存:用真实模型(bf16),层数和头的布局与各个 MiniMind2 尺寸相同。")
    rows = kv_cache_table()
    ctx.metric("kv_cache", rows)
    ctx.table({"en": f"KV cache per sequence in bf16 (formula vs measured; MiB at {CONTEXT} tokens)",
               "zh": f"每条序列的 KV 缓存(bf16,公式 vs 实测;{CONTEXT} token 时的 MiB)"},
              ["model", "layout", "layers x head_dim", "bytes/token formula",
               f"measured, {PROMPT}-token prompt", "+1 decoding step", f"MiB at {CONTEXT}"],
              [[r["model"], f"{r['layout']} ({r['kv_heads']} KV)", f"{r['layers']} x {r['head_dim']}",
                r["formula"], r["prompt_bytes"], r["step_growth"], r["mib_at_context"]] for r in rows])

    head_findings(ctx, heads)
    kv_findings(ctx, rows)
    plot_heads(ctx, heads)
    plot_cache(ctx, rows)


def head_findings(ctx: ExperimentContext, heads: dict) -> None:
    before, after = heads["before"], heads["after"]
    uniform_distance = sum(i / 2 for i in range(1, SEQ)) / (SEQ - 1)  # uniform over keys 0..i
    tv0, tv1 = heads["tv_before"], heads["tv_after"]
    near = min(after, key=lambda s: s["distance"])
    far = max(after, key=lambda s: s["distance"])
    ctx.metric("distance_init_min", min(s["distance"] for s in before))
    ctx.metric("distance_trained_min", near["distance"])
    ctx.metric("distance_trained_max", far["distance"])
    ctx.finding(
        "The heads specialise. At init every head attends almost uniformly (mean distance {b0:.1f}-{b1:.1f} "
        "bytes; uniform: {u:.1f}) and two heads of a layer differ by a total-variation distance of only "
        "{t0} (0 = same weights, 1 = disjoint). After {n} steps (held-out loss {l0:.2f} -> {l1:.2f} "
        "nats/byte) the mean distance ranges from {a0:.1f} (layer {nl} head {nh}) to {a1:.1f} (layer {fl} "
        "head {fh}) and two heads of the same layer differ by {t1}",
        "各个头会分工。初始化时每个头都几乎均匀地关注(平均距离 {b0:.1f}-{b1:.1f} 字节;均匀:{u:.1f}),"
        "同一层两个头的权重之间的总变差距离只有 {t0}(0 = 权重相同,1 = 完全不重叠)。训练 {n} 步后"
        "(验证损失 {l0:.2f} -> {l1:.2f} nats/字节),平均距离从 {a0:.1f}(第 {nl} 层第 {nh} 个头)到 {a1:.1f}"
        "(第 {fl} 层第 {fh} 个头)不等,同一层两个头相差 {t1}",
        [Bar({"en": "smallest layer's difference / its init value", "zh": "各层差异 / 其初始值的最小值"},
             min(t / t_init for t, t_init in zip(tv1, tv0, strict=True)), ">", 10),
         Bar({"en": "largest layer's difference", "zh": "最大的一层差异"}, max(tv1), ">", 0.3)],
        b0=min(s["distance"] for s in before), b1=max(s["distance"] for s in before), u=uniform_distance,
        t0=" / ".join(f"{t:.3f}" for t in tv0), n=heads["steps"], l0=heads["loss_before"],
        l1=heads["loss_after"], a0=near["distance"], nl=near["layer"], nh=near["head"], a1=far["distance"],
        fl=far["layer"], fh=far["head"], t1=" / ".join(f"{t:.2f}" for t in tv1))

    prev_init = max(s["prev"] for s in before)
    best_prev = max(after, key=lambda s: s["prev"])
    ctx.metric("prev_share_trained_max", best_prev["prev"])
    ctx.finding(
        "Some heads become sharp and local while others stay broad: entropy spans {e0:.2f}-{e1:.2f} nats "
        "after training against {i0:.2f}-{i1:.2f} at init, and the most previous-byte-focused head (layer "
        "{pl} head {ph}) puts {p:.2f} of its weight on the previous byte vs at most {pi:.3f} at init",
        "有的头变得尖锐、只看附近,有的头仍然很分散:训练后熵的范围为 {e0:.2f}-{e1:.2f} nats,初始化时为 "
        "{i0:.2f}-{i1:.2f};最关注前一个字节的头(第 {pl} 层第 {ph} 个头)把 {p:.2f} 的权重放在前一个字节上,"
        "初始化时最多 {pi:.3f}",
        [Bar({"en": "entropy spread (nats)", "zh": "熵的差异(nats)"}, spread(after, "entropy"), ">", 0.5),
         Bar({"en": "previous-byte share / init's", "zh": "前一字节占比 / 初始化时"}, best_prev["prev"] / prev_init,
             ">", 3)],
        e0=min(s["entropy"] for s in after), e1=max(s["entropy"] for s in after),
        i0=min(s["entropy"] for s in before), i1=max(s["entropy"] for s in before),
        pl=best_prev["layer"], ph=best_prev["head"], p=best_prev["prev"], pi=prev_init)


def kv_findings(ctx: ExperimentContext, rows: list[dict]) -> None:
    exact = all(r["prompt_bytes"] == PROMPT * r["formula"] and r["step_growth"] == r["formula"] for r in rows)
    all_bf16 = all(r["dtype"] == "bfloat16" for r in rows)
    ctx.code_fact(
        "The formula 2 x layers x KV heads x head_dim x 2 bytes matches the measured bf16 cache exactly for "
        "all {n} configurations ({p}-token prompt), from {lo:,} to {hi:,} bytes per token, and one decoding "
        "step adds exactly that much (equal to the byte, all tensors bf16: the cache stores K and V and nothing else)",
        "公式 2 x 层数 x KV 头数 x head_dim x 2 字节与实测的 bf16 缓存在全部 {n} 种配置下逐字节一致,"
        "({p} token 的提示)每个 token 从 {lo:,} 到 {hi:,} 字节;多生成一个 token 正好增加这么多"
        "(逐字节相等,张量均为 bf16:缓存只存 K 和 V,别无其他)",
        exact and all_bf16, n=len(rows), p=PROMPT, lo=min(r["measured"] for r in rows),
        hi=max(r["measured"] for r in rows))
    by = {(r["model"], r["layout"]): r for r in rows}
    small = {layout: by["minimind2-small", layout] for layout in LAYOUTS}
    big = {layout: by["minimind2", layout] for layout in LAYOUTS}
    ratios = [by[m, "MHA"]["measured"] / by[m, layout]["measured"]
              for m in PRESETS for layout in ("GQA", "MQA")]
    ctx.code_fact(
        "MiniMind2-small's GQA cache is {g:,.0f} bytes/token, {gm:.0f} MiB for a {c}-token context, vs "
        "{m:.0f} MiB with MHA and {q:.0f} MiB with MQA; MiniMind2 (768): {bm:.0f} / {bg:.0f} / {bq:.0f} MiB. "
        "GQA keeps 1/{r1:.0f} of the MHA cache and MQA 1/{r2:.0f}, in every size (exactly 8 / 2 and 8 / 1 KV "
        "heads)",
        "MiniMind2-small 的 GQA 缓存为每 token {g:,.0f} 字节,{c} token 上下文时 {gm:.0f} MiB;MHA 为 "
        "{m:.0f} MiB,MQA 为 {q:.0f} MiB;MiniMind2(768):{bm:.0f} / {bg:.0f} / {bq:.0f} MiB。"
        "在每种尺寸下 GQA 只需 MHA 的 1/{r1:.0f},MQA 只需 1/{r2:.0f}(恰好是 8 / 2 和 8 / 1 个 KV 头)",
        ratios == [4.0, 8.0] * len(PRESETS),
        g=small["GQA"]["measured"], gm=small["GQA"]["mib_at_context"], c=CONTEXT,
        m=small["MHA"]["mib_at_context"], q=small["MQA"]["mib_at_context"],
        bm=big["MHA"]["mib_at_context"], bg=big["GQA"]["mib_at_context"], bq=big["MQA"]["mib_at_context"],
        r1=ratios[0], r2=ratios[1])


# -- plots -----------------------------------------------------------------------------------------
def plot_heads(ctx: ExperimentContext, heads: dict) -> None:
    plt = ctx.plt
    n_layers = len(heads["example"])
    n_heads = heads["example"][0].shape[0]
    fig, axes = plt.subplots(n_layers, n_heads + 1, figsize=(3 * (n_heads + 1), 3 * n_layers))
    for layer in range(n_layers):
        for h in range(n_heads):
            ax = axes[layer, h]
            ax.imshow(heads["example"][layer][h].numpy(), cmap="Blues", vmin=0, vmax=1)
            s = heads["after"][layer * n_heads + h]
            ax.set_title(f"L{layer} H{h}: dist {s['distance']:.1f}, H {s['entropy']:.2f}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        ax = axes[layer, n_heads]
        labels = [f"H{h}" for h in range(n_heads)]
        stats = [heads["before"], heads["after"]]
        for i, (name, s) in enumerate(zip(("init", "trained"), stats, strict=True)):
            values = [x["distance"] for x in s if x["layer"] == layer]
            ax.bar([j + 0.4 * i for j in range(n_heads)], values, width=0.4, label=name)
        ax.set_xticks([j + 0.2 for j in range(n_heads)], labels)
        ax.set_title(f"layer {layer}: mean attention distance", fontsize=9)
        ax.legend(fontsize=8)
    fig.suptitle("Trained attention of each head on one held-out window (first 32 bytes; row = query)")
    ctx.savefig(fig, "heads.png")


def plot_cache(ctx: ExperimentContext, rows: list[dict]) -> None:
    plt = ctx.plt
    fig, ax = plt.subplots(figsize=(8, 4.2))
    width = 0.27
    for i, layout in enumerate(LAYOUTS):
        values = [next(r["mib_at_context"] for r in rows if r["model"] == m and r["layout"] == layout)
                  for m in PRESETS]
        bars = ax.bar([j + (i - 1) * width for j in range(len(PRESETS))], values, width,
                      label=f"{layout} ({LAYOUTS[layout]} KV head{'s' if LAYOUTS[layout] > 1 else ''})")
        ax.bar_label(bars, fmt="%.0f", fontsize=8)
    ax.set_xticks(range(len(PRESETS)), PRESETS)
    ax.set_ylabel(f"KV cache, MiB per {CONTEXT}-token sequence (bf16)")
    ax.set_title("KV cache: MHA vs GQA (MiniMind2) vs MQA")
    ax.legend()
    ctx.savefig(fig, "kv_cache.png")


if __name__ == "__main__":
    main(__file__)
