"""Transformer block exp2: which design choices matter? Ablations against measured noise.

The baseline is a small MiniMind (hidden 64, 4 layers, 4 query heads sharing 2 KV heads, RoPE,
Pre-LN RMSNorm, SwiGLU) on byte-level text. Each ablation changes one thing: no position
encoding, LayerNorm, a GELU FFN (same parameter count), Post-LN, full multi-head attention
(4 KV heads), 2 or 8 layers. All train with the same steps, batch, learning rate and data
order (the layer-count rows change the compute by design).

A single run of each proves little: two runs of the *same* model with different seeds
already differ. So the baseline is trained with several seeds and the spread of their
held-out losses is the noise. Only a difference larger than that noise is called real, and
it has to replicate with another seed (same sign, still larger than the noise).
"""

from __future__ import annotations

import math

import torch

from minimind_notes.lab.byte_lm import ByteBatches, corpus_text, eval_loss, train_lm
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.lab.variants import VariantConfig, VariantLM

SEQ, BATCH, LR = 64, 16, 3e-3
BASE = dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2)
ABLATIONS = {
    "no RoPE (no position encoding)": dict(position="none"),
    "LayerNorm instead of RMSNorm": dict(norm="layer"),
    "GELU FFN instead of SwiGLU": dict(ffn="gelu"),
    "Post-LN instead of Pre-LN": dict(norm_position="post"),
    "MHA (4 KV heads) instead of GQA": dict(num_key_value_heads=4),
    "2 layers instead of 4": dict(num_hidden_layers=2),
    "8 layers instead of 4": dict(num_hidden_layers=8),
}
ZH = {
    "no RoPE (no position encoding)": "去掉 RoPE(无位置编码)", "LayerNorm instead of RMSNorm": "LayerNorm 替换 RMSNorm",
    "GELU FFN instead of SwiGLU": "GELU FFN 替换 SwiGLU", "Post-LN instead of Pre-LN": "Post-LN 替换 Pre-LN",
    "MHA (4 KV heads) instead of GQA": "MHA(4 个 KV 头)替换 GQA", "2 layers instead of 4": "2 层替换 4 层",
    "8 layers instead of 4": "8 层替换 4 层",
}


def train_once(changes: dict, steps: int, seed: int, val: torch.Tensor, precision: str) -> dict:
    torch.manual_seed(seed)
    model = VariantLM(VariantConfig(**{**BASE, **changes}))
    log = train_lm(model, ByteBatches(corpus_text("train"), seed=seed), steps, batch_size=BATCH, seq_len=SEQ,
                   lr=LR, precision=precision)
    loss = math.inf if log.diverged else eval_loss(model, val)
    return {"val_loss": loss, "params": model.num_parameters(), "losses": log.losses}


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest and steady on a busy CPU
    steps = 40 if ctx.quick else 300
    seeds = [ctx.seed + i for i in range(3)]
    val = ByteBatches(corpus_text("val")).fixed(32 if ctx.quick else 64, SEQ)
    ctx.log("Each model: {s} steps, batch {b} x {t} bytes, lr {lr}; the baseline with seeds {seeds}, "
            "every ablation with the first two (paired with the baseline of the same seed).",
            "每个模型:{s} 步,batch {b} x {t} 字节,学习率 {lr};基线用种子 {seeds} 各训练一次,"
            "每个消融用前两个种子(与同一种子的基线配对比较)。",
            s=steps, b=BATCH, t=SEQ, lr=LR, seeds=", ".join(map(str, seeds)))
    base = [train_once({}, steps, s, val, ctx.precision) for s in seeds]
    base_losses = [b["val_loss"] for b in base]
    mean = sum(base_losses) / len(base_losses)
    noise = max(base_losses) - min(base_losses)  # the spread of identical models: run-to-run noise
    ctx.metric("baseline_val_losses", base_losses)
    ctx.metric("noise", noise)
    ctx.log("Identical models trained with 3 seeds end {n:.3f} nats/byte apart: a smaller difference says nothing.",
            "三个种子训练出的同一模型,验证损失相差 {n:.3f} nats/字节:小于这个数的差异说明不了任何问题。", n=noise)

    rows, results = [], {}
    for name, changes in ABLATIONS.items():
        runs = [train_once(changes, steps, s, val, ctx.precision) for s in seeds[:2]]
        paired = [r["val_loss"] - b for r, b in zip(runs, base_losses, strict=False)]
        diff = sum(paired) / len(paired)
        results[name] = {"val_loss": sum(r["val_loss"] for r in runs) / 2, "params": runs[0]["params"],
                         "paired": paired, "diff": diff, "real": abs(diff) > noise}
        rows.append([name, runs[0]["params"], results[name]["val_loss"], diff,
                     " / ".join(f"{d:+.3f}" for d in paired), "yes" if results[name]["real"] else "within noise"])
    ctx.metric("ablations", results)
    ctx.metric("ablation_diffs", [r["diff"] for r in results.values()])  # in the order of ABLATIONS
    ctx.table({"en": f"Held-out loss after {steps} steps (nats/byte). Baseline {mean:.3f} "
                     f"(seeds: {', '.join(f'{v:.3f}' for v in base_losses)}; noise = spread {noise:.3f})",
               "zh": f"训练 {steps} 步后的验证损失(nats/字节)。基线 {mean:.3f}"
                     f"(各种子:{', '.join(f'{v:.3f}' for v in base_losses)};噪声 = 极差 {noise:.3f})"},
              ["ablation", "parameters", "held-out loss", "minus baseline", "per seed", "beyond noise?"],
              [["baseline (MiniMind)", base[0]["params"], mean, 0.0, "-", "-"], *rows])
    findings(ctx, results, noise, steps)
    plot(ctx, results, mean, noise)


def findings(ctx: ExperimentContext, results: dict, noise: float, steps: int) -> None:
    """Every ablation is reported with its interval (paired difference +- the baseline's seed spread)."""
    for name, r in results.items():
        low, high = r["diff"] - noise, r["diff"] + noise
        per_seed = " / ".join(f"{d:+.3f}" for d in r["paired"])
        values = dict(name=name, label_zh=ZH[name], d=r["diff"], lo=low, hi=high, p=per_seed, s=steps)
        if r["real"]:
            sign = 1 if r["diff"] > 0 else -1
            ctx.finding(
                "{name}: {way} by {d:+.3f} nats/byte, interval [{lo:+.3f}, {hi:+.3f}] excludes 0; per seed {p}",
                "{label_zh}:{way_zh} {d:+.3f} nats/字节,区间 [{lo:+.3f}, {hi:+.3f}] 不含 0;各种子分别为 {p}",
                Bar({"en": "smallest per-seed difference in that direction", "zh": "同方向上最小的单种子差值"},
                    min(sign * d for d in r["paired"]), ">", 0),
                way="worse" if sign > 0 else "better", way_zh="更差" if sign > 0 else "更好", **values)
        else:
            ctx.finding(
                "{name}: {d:+.3f} nats/byte, interval [{lo:+.3f}, {hi:+.3f}] includes 0: no effect measurable "
                "after {s} steps; per seed {p} (a difference of two noisy runs can reach about 1.4x the noise; a "
                "real effect hidden by the mean would show as more than twice the noise)",
                "{label_zh}:{d:+.3f} nats/字节,区间 [{lo:+.3f}, {hi:+.3f}] 含 0:训练 {s} 步后测不出影响;"
                "各种子分别为 {p}(两次含噪声运行之差约可达噪声的 1.4 倍,被均值掩盖的真实影响会超过噪声的两倍)",
                Bar({"en": "largest |per-seed difference|", "zh": "单种子差值的最大绝对值"},
                    max(abs(d) for d in r["paired"]), "<", 2 * noise), **values)


def plot(ctx: ExperimentContext, results: dict, mean: float, noise: float) -> None:
    plt = ctx.plt
    fig, ax = plt.subplots(figsize=(8, 4.5))
    names = list(results)
    diffs = [results[n]["diff"] for n in names]
    colors = ["tab:red" if d > 0 else "tab:green" for d in diffs]
    ax.barh(names, diffs, color=colors)
    ax.axvspan(-noise, noise, color="grey", alpha=0.25, label=f"run-to-run noise (±{noise:.3f})")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(f"held-out loss minus baseline ({mean:.3f}), nats per byte; right = worse")
    ax.legend()
    ax.set_title("Ablations of the MiniMind block")
    fig.tight_layout()
    ctx.savefig(fig, "ablations.png")


if __name__ == "__main__":
    main(__file__)
