"""Residual connection exp1: does the gradient reach the first layer of a deep stack?

The same small MiniMind-style model (Pre-LN RMSNorm, GQA attention with RoPE, SwiGLU FFN,
byte-level text) is built at depth 4, 8, 16 and 32, once with the residual connections
(x + attn(norm(x)), then h + mlp(norm(h))) and once without (each block replaces the stream:
mlp(norm(attn(norm(x))))). Everything else is identical: parameters, initialization, data.

(a) At initialization: the gradient norm of the first block's weights and of the last block's,
averaged over several seeds. Without the identity path the gradient reaching layer 1 is a
product of one Jacobian per layer; with it, d(x + f(x))/dx = 1 + df/dx keeps a direct route.
(b) Trained for the same number of steps: the held-out loss at each depth.
"""

from __future__ import annotations

import math

import torch

from minimind_notes.lab.byte_lm import ByteBatches, corpus_text, eval_loss, train_lm, unigram_entropy
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.lab.variants import VariantConfig, VariantLM

DEPTHS = [4, 8, 16, 32]
SEQ, BATCH, LR = 64, 16, 3e-3


def block_grad_norm(model: VariantLM, index: int) -> float:
    return math.sqrt(sum(float(p.grad.pow(2).sum()) for p in model.model.layers[index].parameters()))


def grads_at_init(depth: int, residual: bool, ids: torch.Tensor, seeds: list[int]) -> dict:
    """Mean gradient norm of the first and the last block over `seeds` (one batch each)."""
    first, last = [], []
    for seed in seeds:
        torch.manual_seed(seed)
        model = VariantLM(VariantConfig(num_hidden_layers=depth, residual=residual))
        model(ids, labels=ids).loss.backward()
        first.append(block_grad_norm(model, 0))
        last.append(block_grad_norm(model, depth - 1))
    return {"first": sum(first) / len(first), "last": sum(last) / len(last)}


def train_depth(depth: int, residual: bool, steps: int, seed: int, val: torch.Tensor, precision: str) -> dict:
    torch.manual_seed(seed)
    model = VariantLM(VariantConfig(num_hidden_layers=depth, residual=residual))
    log = train_lm(model, ByteBatches(corpus_text("train"), seed=seed), steps, batch_size=BATCH, seq_len=SEQ,
                   lr=LR, precision=precision)
    return {"val_loss": math.inf if log.diverged else eval_loss(model, val), "losses": log.losses,
            "diverged": log.diverged}


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest and steady on a busy CPU
    ids = ByteBatches(corpus_text("val")).fixed(8, SEQ)
    seeds = [ctx.seed + i for i in range(3)]
    grads = {(d, r): grads_at_init(d, r, ids, seeds) for d in DEPTHS for r in (True, False)}
    ctx.metric("grad_norms", {f"depth{d}_{'res' if r else 'nores'}": g for (d, r), g in grads.items()})
    ctx.table({"en": "(a) Gradient norm at initialization (mean of 3 seeds): first block, last block",
               "zh": "(a) 初始化时的梯度范数(3 个种子的平均):第一个块、最后一个块"},
              ["depth", "residual: first", "residual: last", "no residual: first", "no residual: last",
               "no residual: first / last"],
              [[d, grads[d, True]["first"], grads[d, True]["last"], grads[d, False]["first"],
                grads[d, False]["last"], grads[d, False]["first"] / grads[d, False]["last"]] for d in DEPTHS])

    train_depths = [4, 8] if ctx.quick else DEPTHS
    steps = 60 if ctx.quick else 250
    val = ByteBatches(corpus_text("val")).fixed(16 if ctx.quick else 48, SEQ)
    ctx.log("(b) Training hidden 64 models at depth {d}: {s} steps, batch {b} x {t} bytes, lr {lr}.",
            "(b) 训练 hidden 64 的模型,深度 {d}:{s} 步,batch {b} x {t} 字节,学习率 {lr}。",
            d=", ".join(map(str, train_depths)), s=steps, b=BATCH, t=SEQ, lr=LR)
    trained = {(d, r): train_depth(d, r, steps, ctx.seed, val, ctx.precision)
               for d in train_depths for r in (True, False)}
    ctx.metric("val_loss", {f"depth{d}_{'res' if r else 'nores'}": t["val_loss"] for (d, r), t in trained.items()})
    ctx.table({"en": f"(b) Held-out loss after {steps} steps (nats per byte; uniform = {math.log(256):.2f})",
               "zh": f"(b) 训练 {steps} 步后的验证损失(每字节 nats;均匀猜测 = {math.log(256):.2f})"},
              ["depth", "with residual", "without residual"],
              [[d, trained[d, True]["val_loss"], trained[d, False]["val_loss"]] for d in train_depths])

    findings(ctx, grads, trained, train_depths, steps, unigram_entropy(corpus_text("train")))
    plot(ctx, grads, trained, train_depths)


def findings(ctx: ExperimentContext, grads: dict, trained: dict, depths: list[int], steps: int,
             unigram: float) -> None:
    lo, hi = DEPTHS[0], DEPTHS[-1]
    change = lambda r: max(grads[hi, r]["first"] / grads[lo, r]["first"],
                           grads[lo, r]["first"] / grads[hi, r]["first"])
    plain, res = grads[hi, False]["first"] / grads[lo, False]["first"], change(True)
    ctx.metric("first_grad_change_res", res)
    ctx.metric("first_grad_change_nores", change(False))
    # the per-block factor a geometric product of Jacobians would need to give the plain stack's change
    ctx.metric("nores_factor_per_block", change(False) ** (1 / (hi - lo)))
    ctx.finding(
        "Without residuals the first block's gradient depends on depth through a product of one Jacobian per "
        "layer: from depth {lo} to {hi} it goes {a:.2e} -> {b:.2e}, {way} {f:.0f}x. With residuals it goes "
        "{c:.2e} -> {d:.2e}, within {g:.1f}x",
        "没有残差时,第一个块的梯度要乘上每一层的 Jacobian,所以随深度剧烈变化:从深度 {lo} 到 {hi},"
        "它从 {a:.2e} 变成 {b:.2e},{way_zh} {f:.0f} 倍。有残差时从 {c:.2e} 到 {d:.2e},变化不超过 {g:.1f} 倍",
        [Bar({"en": "change without residuals (x)", "zh": "无残差的变化倍数"}, change(False), ">", 10),
         Bar({"en": "change with residuals (x)", "zh": "有残差的变化倍数"}, res, "<", 3)],
        lo=lo, hi=hi, a=grads[lo, False]["first"], b=grads[hi, False]["first"],
        way="growing" if plain > 1 else "shrinking", way_zh="增大" if plain > 1 else "缩小",
        f=change(False), c=grads[lo, True]["first"], d=grads[hi, True]["first"], g=res)
    ratio = lambda r: grads[hi, r]["first"] / grads[hi, r]["last"]
    off = lambda r: max(ratio(r), 1 / ratio(r))  # how far apart first and last are, either way
    ctx.finding(
        "Inside one {hi}-layer stack the first block gets {p:.1e}x the last block's gradient without residuals, "
        "{r:.2f}x with them: only the identity path keeps every layer on the same footing",
        "在同一个 {hi} 层网络里,没有残差时第一个块的梯度是最后一个块的 {p:.1e} 倍,有残差时是 {r:.2f} 倍:"
        "只有恒等路径能让各层的梯度处在同一量级",
        [Bar({"en": "first vs last, factor either way, without residuals", "zh": "无残差时首末块相差的倍数"},
             off(False), ">", 10),
         Bar({"en": "with residuals", "zh": "有残差时"}, off(True), "<", 10)],
        hi=hi, p=ratio(False), r=ratio(True))
    stuck = [trained[d, False]["val_loss"] for d in depths]
    shallow = depths[0]
    ctx.metric("unigram_entropy", unigram)
    ctx.metric("shallow_val_loss_res_nores", [trained[shallow, True]["val_loss"], trained[shallow, False]["val_loss"]])
    ctx.finding(
        "Without residuals the model learns almost nothing beyond byte frequencies in {s} steps: held-out loss "
        "{b} at depth {ds} vs {u:.3f} for the best context-free guess; with residuals depth {d0} reaches {a:.3f}",
        "没有残差时,{s} 步内模型几乎只学到了字节频率:深度 {ds} 的验证损失为 {b},而不看上下文的最佳猜测是 "
        "{u:.3f};有残差时深度 {d0} 达到 {a:.3f}",
        [Bar({"en": "largest |no-residual loss - byte entropy|", "zh": "无残差损失与字节熵之差的最大绝对值"},
             max(abs(v - unigram) for v in stuck), "<", 0.2),
         Bar({"en": f"byte entropy - residual depth-{shallow} loss", "zh": f"字节熵减去有残差深度 {shallow} 的损失"},
             unigram - trained[shallow, True]["val_loss"], ">", 0.3)],
        s=steps, b=" / ".join(f"{v:.3f}" for v in stuck), ds=" / ".join(map(str, depths)), u=unigram,
        d0=shallow, a=trained[shallow, True]["val_loss"])
    deep = depths[-1]
    ctx.finding(
        "At depth {d} after {s} steps: {a:.3f} nats/byte with residuals vs {b:.3f} without; depth {d0} with "
        "residuals: {c:.3f}",
        "深度 {d}、训练 {s} 步后:有残差 {a:.3f} nats/字节,无残差 {b:.3f};有残差的深度 {d0}:{c:.3f}",
        Bar({"en": "without minus with (nats/byte)", "zh": "无残差减去有残差(nats/字节)"},
            trained[deep, False]["val_loss"] - trained[deep, True]["val_loss"], ">", 0.1),
        d=deep, s=steps, a=trained[deep, True]["val_loss"], b=trained[deep, False]["val_loss"], d0=shallow,
        c=trained[shallow, True]["val_loss"])


def plot(ctx: ExperimentContext, grads: dict, trained: dict, depths: list[int]) -> None:
    plt = ctx.plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for residual, style in ((True, "o-"), (False, "s--")):
        label = "with residual" if residual else "without residual"
        left.plot(DEPTHS, [grads[d, residual]["first"] for d in DEPTHS], style, label=label)
        for d in depths:
            losses = trained[d, residual]["losses"]
            right.plot(losses, style[-1], lw=1, label=f"depth {d}, {label}")
    left.set_yscale("log")
    left.set_xlabel("depth (blocks)")
    left.set_ylabel("gradient norm of the first block at init")
    left.legend()
    right.set_xlabel("training step")
    right.set_ylabel("training loss, nats per byte")
    right.legend(fontsize=7)
    fig.suptitle("Residual connections keep the first layer trainable")
    ctx.savefig(fig, "residual_depth.png")


if __name__ == "__main__":
    main(__file__)
