"""Attention exp2: why the scores are divided by sqrt(d).

For head sizes d = 16, 64, 256 and 1024 we draw queries and keys with independent
unit-variance components (what a freshly initialised, normalised layer produces) and score
each query against 64 keys, once as the raw dot product q.k and once as q.k / sqrt(d).
We measure:

- the std of the scores: a sum of d unit-variance products has std sqrt(d);
- how peaked the softmax is: the mean top weight and the entropy of each query's weights;
- the gradient that gets through the softmax. We backpropagate a random upstream gradient
  (standard normal, one value per weight, standing in for whatever the loss wants) through
  softmax and record the norm of the gradient at the softmax input (the scores) and at the
  query q. A saturated, nearly one-hot softmax has a Jacobian diag(p) - p p^T close to 0,
  so almost nothing gets through.

We report medians over queries: the typical query. A few queries whose two best keys
happen to tie keep a large gradient, and they dominate the mean (the table shows both).
"""

from __future__ import annotations

import math

import torch

from minimind_notes.lab.experiment import Bar, ExperimentContext, main

DIMS = [16, 64, 256, 1024]
KEYS = 64  # keys per query: a uniform softmax over them has entropy ln 64 = 4.16 nats
SATURATED = 0.99  # a query whose top weight exceeds this passes almost no gradient


def softmax_stats(q: torch.Tensor, k: torch.Tensor, scale: float, upstream: torch.Tensor) -> dict[str, float]:
    """q (N, d), k (KEYS, d), upstream (N, KEYS): statistics of softmax(q k^T * scale)."""
    q = q.clone().requires_grad_()
    scores = (q @ k.T) * scale  # (N, KEYS)
    scores.retain_grad()
    weights = scores.softmax(-1)  # (N, KEYS)
    (weights * upstream).sum().backward()  # d(loss)/d(weights) = upstream
    weights = weights.detach()
    entropy = -(weights * weights.clamp_min(1e-30).log()).sum(-1)  # (N,)
    top = weights.max(-1).values  # (N,)
    grad_scores = scores.grad.norm(dim=-1)  # (N,)
    grad_q = q.grad.norm(dim=-1)  # (N,)
    return {
        "score_std": float(scores.detach().std()),
        "top_weight": float(top.mean()),
        "entropy": float(entropy.mean()),
        "saturated_share": float((top > SATURATED).float().mean()),
        "grad_scores_median": float(grad_scores.median()),
        "grad_scores_mean": float(grad_scores.mean()),
        "grad_q_median": float(grad_q.median()),
        "grad_q_mean": float(grad_q.mean()),
    }


def measure(queries: int) -> dict[str, dict[int, dict[str, float]]]:
    """{'raw' | 'scaled': {d: stats}} on the same q, k and upstream gradient for both."""
    out: dict[str, dict[int, dict[str, float]]] = {"raw": {}, "scaled": {}}
    for d in DIMS:
        q, k = torch.randn(queries, d), torch.randn(KEYS, d)  # unit-variance components
        upstream = torch.randn(queries, KEYS)
        out["raw"][d] = softmax_stats(q, k, 1.0, upstream)
        out["scaled"][d] = softmax_stats(q, k, 1 / math.sqrt(d), upstream)
    return out


def run(ctx: ExperimentContext) -> None:
    queries = 500 if ctx.quick else 4000
    ctx.log("{n} queries per head size, each scored against {k} keys; q and k have unit-variance components.",
            "每种头维度取 {n} 个查询,每个查询与 {k} 个键打分;q 和 k 的每个分量方差为 1。",
            n=queries, k=KEYS)
    stats = measure(queries)
    raw, scaled = stats["raw"], stats["scaled"]
    for kind in ("raw", "scaled"):
        for name in raw[DIMS[0]]:
            ctx.metric(f"{name}_{kind}", [stats[kind][d][name] for d in DIMS])
    ctx.metric("grad_scores_raw_over_scaled", [raw[d]["grad_scores_median"] / scaled[d]["grad_scores_median"]
                                               for d in DIMS])
    kinds = (("raw", raw), ("scaled", scaled))
    ctx.table({"en": "Spread of the scores and saturation of the softmax (means over queries)",
               "zh": "分数的离散程度与 softmax 的饱和程度(对查询取均值)"},
              ["d", "scores", "score std", "top weight", "entropy (nats)", f"share top > {SATURATED}"],
              [[d, kind, s[d]["score_std"], s[d]["top_weight"], s[d]["entropy"], s[d]["saturated_share"]]
               for d in DIMS for kind, s in kinds])
    ctx.table({"en": "Gradient norm through the softmax, per query (median and mean over queries)",
               "zh": "穿过 softmax 的梯度范数,按查询统计(中位数和均值)"},
              ["d", "scores", "at scores: median", "mean", "at q: median", "mean"],
              [[d, kind, s[d]["grad_scores_median"], s[d]["grad_scores_mean"], s[d]["grad_q_median"],
                s[d]["grad_q_mean"]] for d in DIMS for kind, s in kinds])

    std_ratio = [raw[d]["score_std"] / math.sqrt(d) for d in DIMS]
    scaled_std = [scaled[d]["score_std"] for d in DIMS]
    ctx.finding(
        "Raw dot products spread like sqrt(d): std {s0:.1f} at d = 16 and {s3:.1f} at d = 1024, i.e. "
        "std / sqrt(d) = {lo:.2f}-{hi:.2f}; divided by sqrt(d) the std is {a:.2f}-{b:.2f} at every d",
        "原始点积的离散程度按 sqrt(d) 增长:d = 16 时标准差 {s0:.1f},d = 1024 时 {s3:.1f},"
        "即 std / sqrt(d) = {lo:.2f}-{hi:.2f};除以 sqrt(d) 后每个 d 的标准差都在 {a:.2f}-{b:.2f}",
        [Bar({"en": "largest |std / sqrt(d) - 1|", "zh": "|std / sqrt(d) - 1| 的最大值"},
             max(abs(r - 1) for r in std_ratio), "<", 0.1),
         Bar({"en": "largest |scaled std - 1|", "zh": "|缩放后 std - 1| 的最大值"},
             max(abs(r - 1) for r in scaled_std), "<", 0.1)],
        s0=raw[16]["score_std"], s3=raw[1024]["score_std"], lo=min(std_ratio), hi=max(std_ratio),
        a=min(scaled_std), b=max(scaled_std))

    top_scaled = [scaled[d]["top_weight"] for d in DIMS]
    ent_scaled = [scaled[d]["entropy"] for d in DIMS]
    ctx.finding(
        "Without scaling the softmax saturates as d grows: the mean top weight rises from {t0:.2f} (d = 16) "
        "to {t3:.2f} (d = 1024) and the entropy falls from {e0:.2f} to {e3:.2f} nats. With / sqrt(d) the top "
        "weight stays at {ta:.3f}-{tb:.3f} and the entropy at {ea:.2f}-{eb:.2f} nats (uniform: {u:.2f})",
        "不缩放时,softmax 随 d 增大而饱和:平均最大权重从 {t0:.2f}(d = 16)升到 {t3:.2f}(d = 1024),"
        "熵从 {e0:.2f} 降到 {e3:.2f} nats。除以 sqrt(d) 后,最大权重保持在 {ta:.3f}-{tb:.3f},"
        "熵保持在 {ea:.2f}-{eb:.2f} nats(均匀分布:{u:.2f})",
        [Bar({"en": "raw top weight at d = 1024", "zh": "d = 1024 时原始最大权重"}, raw[1024]["top_weight"], ">", 0.9),
         Bar({"en": "scaled top weight's range across d", "zh": "缩放后最大权重跨 d 的变化范围"},
             max(top_scaled) - min(top_scaled), "<", 0.02),
         Bar({"en": "scaled entropy's range", "zh": "缩放后熵的变化范围"},
             max(ent_scaled) - min(ent_scaled), "<", 0.1)],
        t0=raw[16]["top_weight"], t3=raw[1024]["top_weight"], e0=raw[16]["entropy"], e3=raw[1024]["entropy"],
        ta=min(top_scaled), tb=max(top_scaled), ea=min(ent_scaled), eb=max(ent_scaled), u=math.log(KEYS))

    shrink = ctx.metric("grad_scores_drop_raw_16_to_1024",
                        raw[16]["grad_scores_median"] / raw[1024]["grad_scores_median"])
    grad_scaled = [scaled[d]["grad_scores_median"] for d in DIMS]
    ctx.finding(
        "The gradient through an unscaled softmax vanishes: the median |gradient at the scores| falls from "
        "{g0:.3f} (d = 16) to {g3:.1e} (d = 1024), {r:.0f}x smaller, and {sat:.0%} of queries have a top "
        "weight above {thr}. With / sqrt(d) it stays at {a:.3f}-{b:.3f} for every d",
        "未缩放的 softmax 会让梯度消失:分数处梯度范数的中位数从 {g0:.3f}(d = 16)降到 {g3:.1e}(d = 1024),"
        "缩小 {r:.0f} 倍,且 {sat:.0%} 的查询最大权重超过 {thr}。"
        "除以 sqrt(d) 后每个 d 都保持在 {a:.3f}-{b:.3f}",
        [Bar({"en": "drop from d = 16 to 1024", "zh": "从 d = 16 到 1024 的下降倍数"}, shrink, ">", 100),
         Bar({"en": "scaled max / min", "zh": "缩放后最大值 / 最小值"}, max(grad_scaled) / min(grad_scaled), "<", 1.2)],
        g0=raw[16]["grad_scores_median"], g3=raw[1024]["grad_scores_median"], r=shrink,
        sat=raw[1024]["saturated_share"], thr=SATURATED, a=min(grad_scaled), b=max(grad_scaled))

    q_shrink = raw[16]["grad_q_median"] / raw[1024]["grad_q_median"]
    ctx.finding(
        "The same holds for the gradient that reaches q (and so W_Q) for the typical query: median {g0:.3f} "
        "at d = 16, {g3:.1e} at d = 1024 ({r:.0f}x smaller), although the unscaled keys are sqrt(d) times "
        "larger. The mean does not fall ({m0:.2f} at d = 16, {m3:.2f} at d = 1024): it is carried by "
        "the few unsaturated queries, which still get a large gradient, while most get almost none",
        "对典型查询而言,传到 q(进而传到 W_Q)的梯度也一样:中位数在 d = 16 时为 {g0:.3f},d = 1024 时为 "
        "{g3:.1e}(缩小 {r:.0f} 倍),尽管未缩放时键的尺度大 sqrt(d) 倍。均值并不下降(d = 16 时 {m0:.2f},"
        "d = 1024 时 {m3:.2f}):它由少数未饱和的查询撑起,这些查询仍有较大梯度,而大多数查询几乎没有",
        Bar({"en": "median drop", "zh": "中位数下降倍数"}, q_shrink, ">", 20),
        g0=raw[16]["grad_q_median"], g3=raw[1024]["grad_q_median"], r=q_shrink,
        m0=raw[16]["grad_q_mean"], m3=raw[1024]["grad_q_mean"])

    plot(ctx, raw, scaled)


def plot(ctx: ExperimentContext, raw: dict, scaled: dict) -> None:
    plt = ctx.plt
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    series = (("raw q.k", raw, "o", "tab:blue"), ("q.k / sqrt(d)", scaled, "s", "tab:orange"))
    for label, stats, marker, color in series:
        axes[0].loglog(DIMS, [stats[d]["score_std"] for d in DIMS], marker + "-", color=color, label=label,
                       base=2)
        axes[1].semilogx(DIMS, [stats[d]["top_weight"] for d in DIMS], marker + "-", color=color,
                         label=label, base=2)
        axes[2].loglog(DIMS, [stats[d]["grad_scores_median"] for d in DIMS], marker + "-", color=color,
                       base=2, label=f"at the scores, {label}")
        axes[2].loglog(DIMS, [stats[d]["grad_q_median"] for d in DIMS], marker + "--", color=color,
                       base=2, alpha=0.6, label=f"at q, {label}")
    axes[0].loglog(DIMS, [math.sqrt(d) for d in DIMS], "k--", lw=0.8, label="sqrt(d)", base=2)
    axes[0].set_title("std of the scores")
    axes[1].axhline(1 / KEYS, color="grey", lw=0.6, label=f"uniform (1/{KEYS})")
    axes[1].set_title("mean top softmax weight")
    axes[2].set_title("median gradient norm through the softmax")
    for ax in axes:
        ax.set_xlabel("head size d")
        ax.legend(fontsize=8)
    ctx.savefig(fig, "sqrt_d_scaling.png")


if __name__ == "__main__":
    main(__file__)
