"""MoE exp2: where does the router send the tokens, with and without the load-balancing loss?

The MoE model of exp1 (the real MiniMindForCausalLM with use_moe=True: hidden 64, 2 layers, 4 routed
experts of width 96, top-2, no shared expert) is trained twice on the same byte-level batches from
the same initialization, once with aux_loss_alpha = 0 (no balancing) and once with 0.1 (the default).
The loss backpropagated is cross-entropy + aux_loss, as in the trainer.

Measured on held-out text, with hooks on each MoEGate (minimind_notes/lab/moe.py):

- each expert's share of the routing slots (a token's two choices are two slots), per layer;
- the coefficient of variation (std / mean) of the shares: 0 when all four get 25%, 1.0 when two
  experts take every slot (with top-2 no expert can take more than half);
- the entropy of the shares in bits: 2.0 when balanced, 1.0 when two experts take everything;
- the quantity the aux loss multiplies by alpha, E x sum_e f_e x P_e (f: share of slots, P: mean
  router probability): 1.0 when routing is uniform;

at the end and at several points during training.
"""

from __future__ import annotations

import torch

from minimind_notes.lab.byte_lm import ByteBatches, corpus_text, eval_loss, train_lm
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.lab.moe import byte_config, load_stats, max_cv, routing
from minimind_notes.model import MiniMindForCausalLM

SEQ, LR = 64, 3e-3
E, TOP_K = 4, 2
MOE = dict(use_moe=True, n_routed_experts=E, num_experts_per_tok=TOP_K, n_shared_experts=0, intermediate_size=96)
ALPHAS = [0.0, 0.1]


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def train_alpha(alpha: float, seed: int, steps: int, batch: int, val: torch.Tensor, probe: torch.Tensor,
                precision: str) -> dict:
    torch.manual_seed(seed)  # the same initial weights for both alphas
    model = MiniMindForCausalLM(byte_config(**MOE, aux_loss_alpha=alpha))
    # The early steps are where the load moves fastest: look every steps/40 for the first quarter.
    when = set(range(0, steps // 4, max(1, steps // 40))) | set(range(0, steps + 1, max(1, steps // 10))) | {steps}
    history: list[tuple[int, list[float]]] = []  # (step, CV per layer) on the probe batch

    def snapshot(step: int) -> None:
        if step in when:
            history.append((step, load_stats(routing(model, probe)["counts"])["cv"]))

    log = train_lm(model, ByteBatches(corpus_text("train"), seed=seed), steps, batch, SEQ, LR, min_lr_ratio=0.1,
                   on_step=snapshot, precision=precision)
    final = routing(model, val)
    return {"alpha": alpha, "stats": load_stats(final["counts"]), "balance": final["balance"].tolist(),
            "history": history, "aux_losses": log.aux_losses, "val_loss": eval_loss(model, val, 64)}


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest and steady on a busy CPU
    steps, batch = (220, 8) if ctx.quick else (800, 16)
    val = ByteBatches(corpus_text("val")).fixed(64 if ctx.quick else 128, SEQ)
    probe = val[::8]  # a small held-out batch for the snapshots during training
    ctx.log("Training the 4-expert top-2 MoE with aux_loss_alpha {a}: {s} steps, batch {b} x {t} bytes, "
            "lr {lr}, seed {seed}.",
            "训练 4 专家、top-2 的 MoE,aux_loss_alpha 分别为 {a}:{s} 步,batch {b} x {t} 字节,"
            "学习率 {lr},种子 {seed}。",
            a=" and ".join(map(str, ALPHAS)), s=steps, b=batch, t=SEQ, lr=LR, seed=ctx.seed)
    runs = {alpha: train_alpha(alpha, ctx.seed, steps, batch, val, probe, ctx.precision) for alpha in ALPHAS}
    for alpha, r in runs.items():
        ctx.metric(f"alpha{alpha}_shares", r["stats"]["shares"])
        ctx.metric(f"alpha{alpha}_cv", r["stats"]["cv"])
        ctx.metric(f"alpha{alpha}_entropy_bits", r["stats"]["entropy_bits"])
        ctx.metric(f"alpha{alpha}_balance", r["balance"])
        ctx.metric(f"alpha{alpha}_cv_history", r["history"])
        ctx.metric(f"alpha{alpha}_val_loss", r["val_loss"])
    rows = []
    for alpha, r in runs.items():
        s = r["stats"]
        for layer in range(len(s["cv"])):
            rows.append([alpha, layer, " / ".join(f"{v:.1%}" for v in s["shares"][layer]), s["max_share"][layer],
                         s["cv"][layer], s["entropy_bits"][layer], r["balance"][layer]])
    ctx.table({"en": f"Routing on {val.numel():,} held-out bytes after {steps} steps (balanced: 25% each, CV 0, "
                     "entropy 2 bits, E·Σf·P 1.0)",
               "zh": f"训练 {steps} 步后在 {val.numel():,} 个验证字节上的路由(均衡时:各 25%,CV 0,熵 2 bit,"
                     "E·Σf·P 为 1.0)"},
              ["alpha", "layer", "share per expert", "max share", "CV", "entropy (bits)", "E·Σf·P"], rows)
    ctx.table({"en": "Held-out loss (nats per byte)", "zh": "验证损失(每字节 nats)"},
              ["alpha", "held-out loss", "peak CV during training", "final aux_loss (training batch)"],
              [[a, r["val_loss"], max(max(cv) for _, cv in r["history"]), r["aux_losses"][-1]]
               for a, r in runs.items()])
    findings(ctx, runs, steps)
    plot(ctx, runs)


def findings(ctx: ExperimentContext, runs: dict, steps: int) -> None:
    off, on = runs[0.0], runs[0.1]
    cv_off, cv_on = mean(off["stats"]["cv"]), mean(on["stats"]["cv"])
    ctx.metric("mean_cv", [cv_off, cv_on])  # alpha 0, alpha 0.1
    ctx.finding(
        "The aux loss evens out the load: after {s} steps the coefficient of variation of the experts' shares "
        "is {a:.2f} with alpha 0.1 and {b:.2f} with alpha 0 (mean of the layers; per layer {al} vs {bl}; "
        "0 = balanced, {mx:.1f} = two experts take every slot)",
        "aux loss 让负载变均匀:训练 {s} 步后,各专家份额的变异系数在 alpha 0.1 时为 {a:.2f},alpha 0 时为 "
        "{b:.2f}(各层平均;逐层为 {al} 对 {bl};0 = 完全均衡,{mx:.1f} = 两个专家包揽所有路由)",
        [Bar({"en": "CV with aux / without", "zh": "CV:有 aux / 无 aux"}, cv_on / cv_off, "<", 0.5),
         Bar({"en": "CV without aux minus with", "zh": "CV:无 aux 减去有 aux"}, cv_off - cv_on, ">", 0.2)],
        s=steps, a=cv_on, b=cv_off,
        al=" / ".join(f"{v:.2f}" for v in on["stats"]["cv"]), bl=" / ".join(f"{v:.2f}" for v in off["stats"]["cv"]),
        mx=max_cv(E, TOP_K))
    ent_off, ent_on = min(off["stats"]["entropy_bits"]), min(on["stats"]["entropy_bits"])
    ctx.finding(
        "Without it the busiest expert takes {mo:.0%} of the slots in some layer (25% is fair, 50% the most "
        "possible with top-2) and the least-used {lo:.1%}; with alpha 0.1 the busiest takes {mn:.0%}. The "
        "lowest entropy of a layer's load is {eo:.2f} bits without and {eon:.2f} bits with the aux loss (2.00 "
        "= balanced)",
        "没有 aux loss 时,某一层里最忙的专家拿走 {mo:.0%} 的路由(公平份额 25%,top-2 下最多 50%),"
        "最闲的只有 {lo:.1%};alpha 0.1 时最忙的是 {mn:.0%}。各层负载熵的最小值:无 aux {eo:.2f} bit,"
        "有 aux {eon:.2f} bit(2.00 = 均衡)",
        [Bar({"en": "busiest share without aux minus with", "zh": "最大份额:无 aux 减去有 aux"},
             max(off["stats"]["max_share"]) - max(on["stats"]["max_share"]), ">", 0),
         Bar({"en": "lowest entropy with aux minus without (bits)", "zh": "最低熵:有 aux 减去无 aux(bit)"},
             ent_on - ent_off, ">", 0)],
        mo=max(off["stats"]["max_share"]), lo=min(min(s) for s in off["stats"]["shares"]),
        mn=max(on["stats"]["max_share"]), eo=ent_off, eon=ent_on)
    bal_off, bal_on = mean(off["balance"]), mean(on["balance"])
    ctx.metric("mean_balance", [bal_off, bal_on])
    ctx.finding(
        "What the aux loss measures: E x sum f_e x P_e (f: share of slots, P: mean router probability) is "
        "{bn:.3f} with the aux loss and {bo:.3f} without, where the busy experts also get the high "
        "probabilities. It is 1.0 whenever either f or P is uniform, and alpha times it, averaged over "
        "sequences and summed over layers, is the aux loss (last training batch: {aux:.3f})",
        "aux loss 度量的是什么:E x Σ f_e x P_e(f:路由份额,P:路由器的平均概率)在有 aux loss 时为 {bn:.3f},"
        "没有时为 {bo:.3f},因为繁忙的专家同时拿到了更高的概率。只要 f 或 P 中有一个是均匀的,它就等于 1.0;"
        "把它乘以 alpha、对序列取平均再对各层求和,就是 aux loss(最后一个训练 batch:{aux:.3f})",
        [Bar({"en": "|E x sum f P with aux - 1|", "zh": "有 aux 时 |E x Σ f P - 1|"}, abs(bal_on - 1), "<", 0.1),
         Bar({"en": "E x sum f P without aux", "zh": "无 aux 时 E x Σ f P"}, bal_off, ">", 1.1)],
        bn=bal_on, bo=bal_off, aux=on["aux_losses"][-1])
    peak = max(max(cv) for _, cv in off["history"])
    peak_step = next(step for step, cv in off["history"] if max(cv) == peak)
    end_off = max(off["history"][-1][1])
    peak_on, end_on = max(max(cv) for _, cv in on["history"]), max(on["history"][-1][1])
    if peak_on > 0.8:
        how = ("here the aux loss did not prevent the early rush to a few experts; it pulled the load back later",
               "这里 aux loss 没能阻止训练初期涌向少数专家,它是在之后把负载拉了回来")
    elif peak_on < peak - 0.1:
        how = ("with the aux loss the early rush stayed smaller", "有 aux loss 时,初期的集中程度小一些")
    else:
        how = ("the early peaks are similar; the difference is in the recovery",
               "两者初期的峰值相近,差别在于之后的恢复")
    ctx.finding(
        "Over training (the worse layer's CV on a held-out probe): without balancing it peaks at {p:.2f} at "
        "step {ps} ({mx:.1f} = two experts take every slot) and is still {e:.2f} at the end. With alpha 0.1 "
        "it peaks at {pn:.2f} and ends at {fin:.2f}: {how}",
        "训练过程中(取较差那一层在验证探针上的 CV):没有均衡时它在第 {ps} 步达到峰值 {p:.2f}({mx:.1f} = "
        "两个专家包揽所有路由),到最后仍有 {e:.2f}。alpha 0.1 时峰值为 {pn:.2f},最终为 {fin:.2f}:"
        "{how_zh}",
        [Bar({"en": "peak CV without aux", "zh": "无 aux 时的 CV 峰值"}, peak, ">", 0.75),
         Bar({"en": "final CV without aux / with", "zh": "最终 CV:无 aux / 有 aux"}, end_off / end_on, ">", 2)],
        p=peak, ps=peak_step, mx=max_cv(E, TOP_K), e=end_off, pn=peak_on,
        fin=end_on, how=how[0], how_zh=how[1])


def plot(ctx: ExperimentContext, runs: dict) -> None:
    plt = ctx.plt
    layers = len(runs[0.0]["stats"]["shares"])
    fig, axes = plt.subplots(1, layers + 1, figsize=(4.2 * (layers + 1), 4))
    width = 0.38
    for layer in range(layers):
        ax = axes[layer]
        for j, (alpha, r) in enumerate(runs.items()):
            ax.bar([e + (j - 0.5) * width for e in range(E)], r["stats"]["shares"][layer], width,
                   label=f"alpha {alpha}")
        ax.axhline(1 / E, color="grey", ls="--", lw=0.8, label="balanced (1/E)")
        ax.set_xticks(range(E), [f"expert {e}" for e in range(E)])
        ax.set_ylabel("share of routing slots (held-out)")
        ax.set_title(f"layer {layer}")
        ax.legend(fontsize=8)
    ax = axes[-1]
    for alpha, r in runs.items():
        steps = [step for step, _ in r["history"]]
        for layer, style in zip(range(layers), ("-", "--", ":", "-."), strict=False):
            ax.plot(steps, [cv[layer] for _, cv in r["history"]], style, marker="o", ms=3,
                    color="tab:blue" if alpha == 0 else "tab:orange", label=f"alpha {alpha}, layer {layer}")
    ax.axhline(max_cv(E, TOP_K), color="grey", ls="--", lw=0.8, label="two experts take all")
    ax.set_xlabel("training step")
    ax.set_ylabel("coefficient of variation of the load")
    ax.legend(fontsize=7)
    fig.suptitle("Expert load with and without the load-balancing loss")
    ctx.savefig(fig, "expert_load.png")


if __name__ == "__main__":
    main(__file__)
