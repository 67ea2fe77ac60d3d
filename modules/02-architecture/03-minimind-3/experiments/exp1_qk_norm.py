"""minimind-3 exp1: QK-norm, attention-logit growth and training at a high learning rate.

The same small MiniMind (byte-level text, hidden 64, 2 layers, 4 query heads sharing 2 KV heads) is
trained with `qk_norm` off (MiniMind2) and on (minimind-3), at MiniMind's usual learning rate and at
a high one, without gradient clipping. Every few steps a fixed batch of held-out text goes through
the model and, inside every attention layer, the logits q·k/sqrt(head_dim) that softmax turns into
weights are recomputed from the layer's own weights (checked against the layer's output); the
largest is recorded. At the end: held-out loss, whether and where training diverged, how many
attention rows have collapsed onto one key (largest weight > 0.99), and how far the attention weights
would move if the logits were stored in bf16.

With QK-norm, q and k are RMS-normalised per head, so |q·k| <= head_dim x max|g_q| x max|g_k|
(g: the norms' learned gains); divided by sqrt(head_dim), a logit is bounded by the gains alone.
"""

from __future__ import annotations

import math

import torch

from minimind_notes.lab.byte_lm import ByteBatches, corpus_text, eval_loss, train_lm
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.model import Attention, MiniMindConfig, MiniMindForCausalLM
from minimind_notes.model.attention import causal_mask, repeat_kv
from minimind_notes.model.rope import apply_rotary_pos_emb

SEQ, BATCH = 64, 16
SIZE = dict(vocab_size=256, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            max_position_embeddings=SEQ)
LOW_LR, HIGH_LR = 1e-2, 1e-1
MARGIN = 0.05  # nats/byte: the least the full run expects QK-norm to lower the loss by, on every seed
COLLAPSED = 0.99  # an attention row whose largest weight exceeds this looks at one key only


@torch.no_grad()
def attention_logits(attn: Attention, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """The scores softmax turns into attention weights, (B, nh, T, T), -inf above the diagonal: the
    layer's own projections, QK-norm (if any), RoPE and GQA repeat, then q·k / sqrt(head_dim)."""
    b, t, _ = x.shape
    q = attn.q_proj(x).view(b, t, attn.n_heads, attn.head_dim)
    k = attn.k_proj(x).view(b, t, attn.n_kv_heads, attn.head_dim)
    if attn.q_norm is not None and attn.k_norm is not None:
        q, k = attn.q_norm(q), attn.k_norm(k)
    q, k = apply_rotary_pos_emb(q, k, *rope)
    k = repeat_kv(k, attn.n_rep)
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(attn.head_dim)
    return scores.masked_fill(~causal_mask(t, t), float("-inf"))


@torch.no_grad()
def probe(model: MiniMindForCausalLM, ids: torch.Tensor) -> dict:
    """One forward pass over `ids` that records every attention layer's logits and weights."""
    logits: list[torch.Tensor] = []

    def record(module: Attention, args: tuple, out: object) -> None:  # returns None: the output is kept
        logits.append(attention_logits(module, args[0], args[1]))

    hooks = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, Attention)]
    try:
        weights = model(ids, output_attentions=True).attentions
    finally:
        for hook in hooks:
            hook.remove()
    largest_weight = torch.cat([w.amax(-1).flatten() for w in weights])
    return {"max_logit": max(float(s.amax()) for s in logits),
            "recompute_diff": max(float((s.softmax(-1) - w).abs().max()) for s, w in zip(logits, weights, strict=True)),
            "collapsed": float((largest_weight > COLLAPSED).float().mean()),
            "bound": [qk_bound(m) for m in model.modules() if isinstance(m, Attention) and m.q_norm is not None],
            "per_layer_max": [float(s.amax()) for s in logits],
            **bf16_rounding(logits)}


def bf16_rounding(logits: list[torch.Tensor]) -> dict:
    """What storing these logits in bf16 (8 significant bits) would do: the largest rounding error of a
    logit, and the largest change it makes to an attention weight."""
    rounded = [s.bfloat16().float() for s in logits]
    error = max(float((r - s)[s.isfinite()].abs().max()) for r, s in zip(rounded, logits, strict=True))
    moved = max(float((r.softmax(-1) - s.softmax(-1)).abs().max()) for r, s in zip(rounded, logits, strict=True))
    return {"bf16_logit_error": error, "bf16_weight_change": moved}


def qk_bound(attn: Attention) -> float:
    """With QK-norm: |q·k| / sqrt(hd) <= sqrt(hd) x max|g_q| x max|g_k| (RoPE rotates, keeping lengths)."""
    assert attn.q_norm is not None and attn.k_norm is not None
    return math.sqrt(attn.head_dim) * float(attn.q_norm.weight.abs().max()) * float(attn.k_norm.weight.abs().max())


def train_once(qk_norm: bool, lr: float, steps: int, seed: int, val: torch.Tensor, precision: str) -> dict:
    torch.manual_seed(seed)
    model = MiniMindForCausalLM(MiniMindConfig(**SIZE, qk_norm=qk_norm))
    curve: list[tuple[int, float]] = []
    every = max(steps // 20, 1)

    def on_step(step: int) -> None:
        if step % every == 0 or step == steps:
            curve.append((step, probe(model, val[:8])["max_logit"]))

    log = train_lm(model, ByteBatches(corpus_text("train"), seed=seed), steps, batch_size=BATCH, seq_len=SEQ, lr=lr,
                   clip=None, warmup=5, on_step=on_step, precision=precision)
    end = probe(model, val[:8])
    return {"val_loss": math.inf if log.diverged else eval_loss(model, val), "diverged_at": log.first_bad_step,
            "max_logit": max(v for _, v in curve), "curve": curve, "end": end, "losses": log.losses}


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest and steady on a busy CPU
    steps = 80 if ctx.quick else 400
    seeds = [ctx.seed] if ctx.quick else [ctx.seed, ctx.seed + 1]  # a loss claim needs two seeds to agree
    val = ByteBatches(corpus_text("val")).fixed(32, SEQ)
    ctx.log("hidden {h}, {L} layers, head_dim {hd}; {s} steps of AdamW at lr {lo} and {hi}, batch {b} x {t} bytes, "
            "no gradient clipping; the high rate with seeds {seeds}.",
            "hidden {h}、{L} 层、head_dim {hd};AdamW 以学习率 {lo} 和 {hi} 各训练 {s} 步,batch {b} x {t} 字节,"
            "不做梯度裁剪;高学习率用种子 {seeds}。", h=SIZE["hidden_size"], L=SIZE["num_hidden_layers"],
            hd=SIZE["hidden_size"] // SIZE["num_attention_heads"], s=steps, lo=LOW_LR, hi=HIGH_LR, b=BATCH, t=SEQ,
            seeds=", ".join(map(str, seeds)))
    runs = {(qk, lr, seed): train_once(qk, lr, steps, seed, val, ctx.precision)
            for lr, lr_seeds in ((LOW_LR, seeds[:1]), (HIGH_LR, seeds)) for seed in lr_seeds for qk in (False, True)}
    ctx.metric("runs", {f"qk_norm={qk} lr={lr} seed={seed}": {k: v for k, v in r.items() if k != "losses"}
                        for (qk, lr, seed), r in runs.items()})
    name = {False: "no QK-norm (MiniMind2)", True: "QK-norm (minimind-3)"}
    ctx.table({"en": f"After {steps} steps: the largest attention logit seen, held-out loss (nats/byte), collapsed "
                     f"attention rows (largest weight > {COLLAPSED})",
               "zh": f"训练 {steps} 步后:出现过的最大注意力 logit、验证损失(nats/字节)、坍缩的注意力行"
                     f"(最大权重 > {COLLAPSED})"},
              ["attention", "lr", "seed", "max logit", "diverged at", "held-out loss", "collapsed rows"],
              [[name[qk], lr, seed, r["max_logit"], "-" if r["diverged_at"] is None else r["diverged_at"],
                r["val_loss"], f"{r['end']['collapsed']:.1%}"] for (qk, lr, seed), r in runs.items()])
    findings(ctx, runs, seeds)
    plot(ctx, runs, seeds[0], name)


def findings(ctx: ExperimentContext, runs: dict, seeds: list[int]) -> None:
    s = seeds[0]
    plain_lo, norm_lo = runs[False, LOW_LR, s], runs[True, LOW_LR, s]
    plain_hi, norm_hi = runs[False, HIGH_LR, s], runs[True, HIGH_LR, s]
    diff = max(r["end"]["recompute_diff"] for r in runs.values())
    ctx.code_fact(
        "The recomputed logits are the ones the layers use: softmax of them equals each layer's attention weights "
        "to {d:.1e}",
        "重新算出的 logit 正是各层实际使用的:对它们做 softmax 与各层的注意力权重相差 {d:.1e}",
        Bar({"en": "largest |softmax(logits) - weights|", "zh": "softmax(logit) 与权重的最大差异"}, diff, "<", 1e-5),
        d=diff)
    ctx.finding(
        "Without QK-norm the largest attention logit grows with the learning rate: {lo:.1f} at lr {llo}, {hi:,.0f} "
        "at lr {lhi}",
        "没有 QK-norm 时,最大注意力 logit 随学习率增长:学习率 {llo} 时为 {lo:.1f},{lhi} 时为 {hi:,.0f}",
        Bar({"en": "high-rate / usual-rate max logit", "zh": "高学习率与常用学习率的最大 logit 之比"},
            plain_hi["max_logit"] / plain_lo["max_logit"], ">", 10), lo=plain_lo["max_logit"], hi=plain_hi["max_logit"],
        llo=LOW_LR, lhi=HIGH_LR)
    bounds = [b for r in runs.values() for b in r["end"]["bound"]]
    within = all(m <= b + 1e-4 for (qk, _, _), r in runs.items() if qk
                 for m, b in zip(r["end"]["per_layer_max"], r["end"]["bound"], strict=True))
    ctx.metric("max_logit_low_lr", [plain_lo["max_logit"], norm_lo["max_logit"]])  # without, with QK-norm
    ctx.metric("max_logit_high_lr", [plain_hi["max_logit"], norm_hi["max_logit"]])
    ctx.metric("collapsed_high_lr", [plain_hi["end"]["collapsed"], norm_hi["end"]["collapsed"]])
    ctx.finding(
        "With QK-norm the largest logit stays at {lo:.1f} (lr {llo}) and {hi:.1f} (lr {lhi}), {x:,.0f}x smaller "
        "than without at the high rate",
        "有 QK-norm 时,最大 logit 保持在 {lo:.1f}(学习率 {llo})和 {hi:.1f}(学习率 {lhi}),高学习率下比没有时小 "
        "{x:,.0f} 倍",
        Bar({"en": "plain / QK-norm max logit at the high rate", "zh": "高学习率下两者最大 logit 之比"},
            plain_hi["max_logit"] / norm_hi["max_logit"], ">", 10),
        lo=norm_lo["max_logit"], hi=norm_hi["max_logit"], x=plain_hi["max_logit"] / norm_hi["max_logit"],
        llo=LOW_LR, lhi=HIGH_LR)
    ctx.code_fact(
        "A QK-norm logit can grow only through the norms' gains: every layer's logits stay within the bound "
        "sqrt(head_dim) x max|g_q| x max|g_k|, which ended between {bmin:.1f} and {bmax:.1f} (a bound that holds "
        "by construction for RMS-normalised q and k)",
        "QK-norm 的 logit 只能通过归一化的增益变大:每层的 logit 都不超过上界 sqrt(head_dim) x max|g_q| x max|g_k|,"
        "它最终在 {bmin:.1f} 到 {bmax:.1f} 之间(对 RMS 归一化的 q 和 k,这个上界按构造成立)",
        within, bmin=min(bounds), bmax=max(bounds))
    ctx.finding(
        "Logits in the hundreds make softmax one-hot: at lr {lhi} {p:.1%} of the plain model's attention rows put "
        "more than {c} of their weight on a single key, vs {n:.1%} with QK-norm",
        "logit 到了几百,softmax 就成了 one-hot:学习率 {lhi} 时,普通模型 {p:.1%} 的注意力行把超过 {c} 的权重放在"
        "一个 key 上,有 QK-norm 时为 {n:.1%}",
        Bar({"en": "collapsed share, plain minus QK-norm", "zh": "坍缩占比,普通模型减去 QK-norm"},
            plain_hi["end"]["collapsed"] - norm_hi["end"]["collapsed"], ">", 0), p=plain_hi["end"]["collapsed"],
        n=norm_hi["end"]["collapsed"], c=COLLAPSED, lhi=HIGH_LR)
    plain_end, norm_end = plain_hi["end"], norm_hi["end"]
    ctx.finding(
        "The same logits rounded to bf16 (8 significant bits): the plain model's move by up to {pe:.3g} and its "
        "attention weights by up to {pw:.3f}; with QK-norm the logits move by up to {ne:.3g}, the weights by up to "
        "{nw:.3f}",
        "同样的 logit 舍入到 bf16(8 位有效位):普通模型的 logit 最多变化 {pe:.3g},注意力权重最多变化 {pw:.3f};"
        "有 QK-norm 时 logit 最多变化 {ne:.3g},权重最多变化 {nw:.3f}",
        Bar({"en": "weight change, plain minus QK-norm", "zh": "权重变化,普通模型减去 QK-norm"},
            plain_end["bf16_weight_change"] - norm_end["bf16_weight_change"], ">", 0), pe=plain_end["bf16_logit_error"],
        pw=plain_end["bf16_weight_change"], ne=norm_end["bf16_logit_error"], nw=norm_end["bf16_weight_change"])
    paired = [runs[False, HIGH_LR, seed]["val_loss"] - runs[True, HIGH_LR, seed]["val_loss"] for seed in seeds]
    diverged = [f"qk_norm={qk} lr={lr} seed={seed}" for (qk, lr, seed), r in runs.items()
                if r["diverged_at"] is not None]
    ctx.metric("diverged", diverged)
    if not diverged:
        ctx.log("No run diverged to NaN in fp32: here large logits cost loss and attention, not a crash.",
                "fp32 下没有一次训练发散成 NaN:在这里大 logit 的代价是 loss 和注意力,而不是训练崩溃。")
    else:
        ctx.log("Diverged (loss NaN or exploding): {d}.", "发散(loss 为 NaN 或爆炸):{d}。", d=", ".join(diverged))
    per_seed = " / ".join(f"{p:+.3f}" for p in paired)
    if len(seeds) < 2:
        ctx.log("Held-out loss at lr {lhi}, without minus with QK-norm: {d} nats/byte, one seed in quick mode: no "
                "claim about the loss (the full run trains two seeds for longer).",
                "学习率 {lhi} 时的验证损失,没有减去有 QK-norm:{d} nats/字节;快速模式只有一个种子:不对 loss 下结论"
                "(完整运行用两个种子训练更久)。", lhi=HIGH_LR, d=per_seed)
    else:  # the full run predicts that QK-norm wins at the high rate, on every seed
        ctx.finding(
            "Held-out loss at lr {lhi}: {p:.3f} without QK-norm vs {n:.3f} with; without minus with, per seed "
            "({seeds}): {d} nats/byte",
            "学习率 {lhi} 时的验证损失:没有 QK-norm 为 {p:.3f},有 QK-norm 为 {n:.3f};没有减去有,各种子({seeds}):"
            "{d} nats/字节",
            Bar({"en": "smallest per-seed gain from QK-norm", "zh": "QK-norm 带来的最小单种子降幅"}, min(paired), ">",
                MARGIN),
            p=plain_hi["val_loss"], n=norm_hi["val_loss"], lhi=HIGH_LR, d=per_seed, seeds=", ".join(map(str, seeds)))
    gap = plain_lo["val_loss"] - norm_lo["val_loss"]
    base = unigram()
    ctx.finding(
        "At lr {llo} both runs stay stable: {p:.3f} without vs {n:.3f} with QK-norm ({d:+.3f}) against {u:.3f} for "
        "byte frequencies alone; in quick mode's few steps a run may still sit near that baseline, depending on "
        "the seed, so no claim here about which is better",
        "学习率 {llo} 时两次训练都稳定:没有 QK-norm 为 {p:.3f},有为 {n:.3f}({d:+.3f}),只靠字节频率是 {u:.3f};"
        "快速模式的步数很少,一次训练可能还停在这个基线附近(取决于种子),所以这里不判断谁更好",
        [Bar({"en": "runs diverged at this rate", "zh": "这个学习率下发散的次数"},
             sum(r["diverged_at"] is not None for r in (plain_lo, norm_lo)), "<=", 0),
         Bar({"en": "the worse loss minus the byte-frequency baseline", "zh": "较差的损失减去字节频率基线"},
             max(plain_lo["val_loss"], norm_lo["val_loss"]) - base, "<", 0.1)],
        p=plain_lo["val_loss"], n=norm_lo["val_loss"], d=gap, llo=LOW_LR, u=base)


def unigram() -> float:
    from minimind_notes.lab.byte_lm import unigram_entropy

    return unigram_entropy(corpus_text("val"))


def plot(ctx: ExperimentContext, runs: dict, seed: int, name: dict) -> None:
    plt = ctx.plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for qk, color in ((False, "tab:red"), (True, "tab:blue")):
        for lr, style in ((LOW_LR, ":"), (HIGH_LR, "-")):
            r = runs[qk, lr, seed]
            steps, values = zip(*r["curve"], strict=True)
            axes[0].plot(steps, values, style, color=color, label=f"{name[qk]}, lr {lr}")
            axes[1].plot(range(len(r["losses"])), r["losses"], style, color=color, label=f"{name[qk]}, lr {lr}")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("largest attention logit q·k/√d (log scale)")
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("training loss (nats/byte)")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    ctx.savefig(fig, "qk_norm.png")


if __name__ == "__main__":
    main(__file__)
