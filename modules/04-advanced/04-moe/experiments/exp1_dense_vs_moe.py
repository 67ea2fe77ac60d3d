"""MoE exp1: a dense model and an MoE model with the same active parameters per token.

Both are the real MiniMindForCausalLM on byte-level text (vocab 256, hidden 64, 2 layers, 4 query
heads, 2 KV heads). They differ only in the feed-forward of each block:

    dense: one SwiGLU FFN of width 192 (the default for hidden 64)
    MoE:   use_moe=True, 4 routed experts of width 96, top-2 routing (num_experts_per_tok=2, the
           weights renormalised: norm_topk_prob), no shared expert, aux_loss_alpha 0.1 (the default)

MiniMind2-MoE routes each token to 2 of 4 experts too. Two half-width experts per token do the
work of one full-width FFN, so the active parameters match; the model holds twice the FFN weights.

(a) Counting: total and active parameters, read from the models, and the matrix-multiply FLOPs per
    token counted during a forward pass (hooks on every Linear and router: 2 x rows x in x out for the
    rows each one actually processed); the parameter counts for the MiniMind2 presets.
(b) Training: both models on the same batches for the same steps, with the load-balancing loss
    added to the cross-entropy as the trainer does; held-out loss for two seeds, so the gap can be
    compared with the seed-to-seed noise. Full mode trains longer and adds a dense model with a
    width-384 FFN: the same total FFN weights as the MoE, at twice its compute per token.
(c) Work and speed: the tensor operations one training step (forward + backward) of each trained model
    runs, counted as they run, and its CPU time on the same batch, the models interleaved round by
    round, median kept. The count is checked; the time is reported (a busy machine moves it).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from minimind_notes.lab.byte_lm import ByteBatches, corpus_text, eval_loss, train_lm, unigram_entropy
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.lab.measure import interleaved_times, median_ratio, recorded_ops
from minimind_notes.lab.moe import (
    active_parameters,
    byte_config,
    expert_load,
    load_stats,
    mm_flops_per_token,
)
from minimind_notes.model import MiniMindForCausalLM, preset

SEQ, LR = 64, 3e-3
MOE = dict(use_moe=True, n_routed_experts=4, num_experts_per_tok=2, n_shared_experts=0, intermediate_size=96)
MODELS = {"dense": {}, "moe": MOE, "dense-wide": dict(intermediate_size=384)}


def ffn_params(model: MiniMindForCausalLM) -> int:
    """Weights of all feed-forward sub-layers (experts and router included)."""
    return sum(p.numel() for layer in model.model.layers for p in layer.mlp.parameters())


def router_params(model: MiniMindForCausalLM) -> int:
    return sum(layer.mlp.gate.weight.numel() for layer in model.model.layers if hasattr(layer.mlp, "gate"))


def counting(ids: torch.Tensor) -> dict:
    """Total / active / FFN parameters and measured matmul FLOPs per token, at initialization."""
    rows = {}
    for name, overrides in MODELS.items():
        model = MiniMindForCausalLM(byte_config(**overrides))
        rows[name] = {"total": model.num_parameters(), "active": active_parameters(model),
                      "ffn": ffn_params(model), "router": router_params(model),
                      "flops": mm_flops_per_token(model, ids)}
    return rows


def preset_counts() -> dict:
    """MiniMind2-MoE against the dense presets, built on the meta device (shapes only)."""
    out = {}
    for name in ("minimind2-small", "minimind2", "minimind2-moe"):
        config = preset(name)
        with torch.device("meta"):
            model = MiniMindForCausalLM(config)
        out[name] = {"total": model.num_parameters(), "active": active_parameters(model),
                     "expert": 3 * config.hidden_size * config.intermediate_size,
                     "layers": config.num_hidden_layers, "routed": config.n_routed_experts,
                     "top_k": config.num_experts_per_tok, "shared": config.n_shared_experts}
    return out


def train_one(name: str, seed: int, steps: int, batch: int, val: torch.Tensor, min_lr_ratio: float,
              precision: str) -> dict:
    torch.manual_seed(seed)  # same seed -> same attention/embedding init for every model of a pair
    model = MiniMindForCausalLM(byte_config(**MODELS[name]))
    log = train_lm(model, ByteBatches(corpus_text("train"), seed=seed), steps, batch, SEQ, LR,
                   min_lr_ratio=min_lr_ratio, precision=precision)
    result = {"model": model, "val_loss": eval_loss(model, val, 64), "losses": log.losses}
    if name == "moe":
        result["cv"] = load_stats(expert_load(model, val))["cv"]
    return result


def training_step(model: MiniMindForCausalLM, ids: torch.Tensor) -> Callable[[], None]:
    """One forward + backward with the load-balancing loss, gradients dropped after."""
    def step() -> None:
        model.train()
        out = model(ids, labels=ids)
        (out.loss + out.aux_loss).backward()
        model.zero_grad(set_to_none=True)
    return step


def step_work(models: dict, ids: torch.Tensor, rounds: int) -> dict:
    """Per model: the tensor operations one training step runs and how many are matrix multiplies
    (counted; a busy machine cannot change them), and its CPU time: the models interleaved round by
    round, median over rounds, with the median and quartiles of the per-round MoE / dense ratio."""
    steps = {name: training_step(model, ids) for name, model in models.items()}
    out = {}
    for name, step in steps.items():
        ops = recorded_ops(step)
        out[name] = {"ops": len(ops), "matmuls": sum(op.name in ("mm", "bmm", "addmm") for op in ops)}
    rounds = interleaved_times(steps, rounds, clock=time.process_time)
    for name in steps:
        out[name]["seconds"] = statistics.median(r[name] for r in rounds)
    out["time_ratio"] = median_ratio(rounds, "moe", "dense")
    return out


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest and steady on a busy CPU
    val = ByteBatches(corpus_text("val")).fixed(128 if ctx.quick else 256, SEQ)
    counts = counting(val[:8])
    presets = preset_counts()
    ctx.metric("counts", counts)
    ctx.metric("preset_counts", presets)
    ctx.table({"en": "(a) Parameters and matmul FLOPs per token (counted during one forward pass)",
               "zh": "(a) 参数量与每个 token 的矩阵乘法 FLOPs(在一次前向中统计)"},
              ["model", "total params", "active params / token", "FFN params (all layers)", "router params",
               "matmul FLOPs / token"],
              [[n, c["total"], c["active"], c["ffn"], c["router"], c["flops"]] for n, c in counts.items()])
    ctx.table({"en": "(a) The MiniMind2 presets (meta device: shapes only)",
               "zh": "(a) MiniMind2 各预设(meta 设备:只有形状)"},
              ["preset", "total params", "active params / token", "routed experts", "top-k", "shared experts"],
              [[n, p["total"], p["active"], p["routed"] if n.endswith("moe") else "-",
                p["top_k"] if n.endswith("moe") else "-", p["shared"] if n.endswith("moe") else "-"]
               for n, p in presets.items()])
    findings_counting(ctx, counts, presets)

    # Quick: a short run at constant LR (it learns fastest in few steps); full: the trainer's cosine
    # decay to lr / 10, which also steadies the final loss.
    steps, batch, min_lr_ratio = (180, 8, 1.0) if ctx.quick else (800, 16, 0.1)
    names = ["dense", "moe"] if ctx.quick else list(MODELS)
    seeds = [ctx.seed, ctx.seed + 1]
    ctx.log("(b) Training {names} for {s} steps, batch {b} x {t} bytes, lr {lr} ({sched}), seeds {seeds}; "
            "loss = cross-entropy + aux_loss.",
            "(b) 训练 {names}:{s} 步,batch {b} x {t} 字节,学习率 {lr}({sched_zh}),种子 {seeds};"
            "loss = 交叉熵 + aux_loss。",
            names=", ".join(names), s=steps, b=batch, t=SEQ, lr=LR, seeds=seeds,
            sched="constant" if min_lr_ratio == 1 else "cosine decay to lr / 10",
            sched_zh="恒定" if min_lr_ratio == 1 else "余弦衰减到 lr / 10")
    runs = {(n, s): train_one(n, s, steps, batch, val, min_lr_ratio, ctx.precision) for s in seeds for n in names}
    ctx.metric("val_loss", {f"{n}_seed{s}": r["val_loss"] for (n, s), r in runs.items()})
    for name in names:  # one list per model, seed by seed: quoted by the text
        ctx.metric(f"loss_{name}", [runs[name, s]["val_loss"] for s in seeds])
    ctx.metric("moe_load_cv", {f"seed{s}": runs["moe", s]["cv"] for s in seeds})
    ctx.table({"en": f"(b) Held-out loss after {steps} steps (nats per byte; byte frequencies alone: "
                     f"{unigram_entropy(corpus_text('train')):.3f})",
               "zh": f"(b) 训练 {steps} 步后的验证损失(每字节 nats;只按字节频率预测:"
                     f"{unigram_entropy(corpus_text('train')):.3f})"},
              ["model", *[f"seed {s}" for s in seeds], "mean"],
              [[n, *[runs[n, s]["val_loss"] for s in seeds], sum(runs[n, s]["val_loss"] for s in seeds) / 2]
               for n in names])
    findings_loss(ctx, runs, names, seeds, steps, ctx.metric("unigram_loss", unigram_entropy(corpus_text("train"))))

    trained = {n: runs[n, seeds[0]]["model"] for n in ("dense", "moe")}
    work = step_work(trained, val[:batch], rounds=12 if ctx.quick else 20)
    ctx.metric("step_work", work)
    ctx.table({"en": f"(c) One training step (forward + backward) on {batch} x {SEQ} bytes: operations counted, "
                     "CPU time (median of interleaved rounds)",
               "zh": f"(c) 一个训练步(前向 + 反向),{batch} x {SEQ} 字节:运算计数,CPU 时间(交替多轮取中位数)"},
              ["model", "tensor ops", "matrix multiplies", "matmul FLOPs / token", "ms"],
              [[n, work[n]["ops"], work[n]["matmuls"], counts[n]["flops"], 1000 * work[n]["seconds"]]
               for n in trained])
    findings_speed(ctx, work, counts)
    plot(ctx, runs, names, seeds, counts)


def findings_counting(ctx: ExperimentContext, counts: dict, presets: dict) -> None:
    d, m = counts["dense"], counts["moe"]
    experts = m["ffn"] - m["router"]
    ctx.code_fact(
        "Same active parameters, more total: the MoE's experts hold {e:,} weights, {r:.2f}x the dense FFN's "
        "{f:,} (4 experts of width 96 vs one of width 192, top-2), so the model has {tm:,} parameters against "
        "{td:,}; a token uses {am:,} of them against {ad:,}: the difference is exactly the router, {rt:,}",
        "激活参数相同,总参数更多:MoE 的专家共有 {e:,} 个权重,是稠密 FFN({f:,})的 {r:.2f} 倍"
        "(4 个宽 96 的专家对 1 个宽 192 的 FFN,top-2),所以模型共有 {tm:,} 个参数,稠密模型 {td:,} 个;"
        "每个 token 用到其中 {am:,} 个,稠密模型 {ad:,} 个,相差的恰好是路由器的 {rt:,} 个权重",
        experts == 2 * d["ffn"] and m["active"] - d["active"] == m["router"] and d["active"] == d["total"],
        e=experts, r=experts / d["ffn"], f=d["ffn"], tm=m["total"], td=d["total"], am=m["active"],
        ad=d["active"], rt=m["router"])
    ctx.code_fact(
        "Counted during a forward pass: {fm:,.0f} matmul FLOPs per token for the MoE and {fd:,.0f} for the dense "
        "model ({r:.4f}x): the extra {x:,.0f} is the router (2 x 4 x 64 per layer). Twice the FFN weights, "
        "the same compute",
        "在一次前向中统计:MoE 每个 token {fm:,.0f} 次矩阵乘法 FLOPs,稠密模型 {fd:,.0f} 次"
        "({r:.4f} 倍):多出的 {x:,.0f} 次来自路由器(每层 2 x 4 x 64)。FFN 权重翻倍,计算量不变",
        abs(m["flops"] / d["flops"] - 1) < 0.01 and m["flops"] - d["flops"] == 2 * m["router"],
        fm=m["flops"], fd=d["flops"], r=m["flops"] / d["flops"], x=m["flops"] - d["flops"])
    p = presets["minimind2-moe"]
    idle = (p["routed"] - p["top_k"]) * p["layers"] * p["expert"]
    ctx.code_fact(
        "MiniMind2-MoE ({routed} routed experts, top-{k}, {shared} shared, hidden 640, 8 layers) holds "
        "{t:,} parameters but a token uses {a:,}: {i:,} weights ({idle_experts} experts of {pe:,} in each of "
        "{l} layers) sit idle for it. The dense MiniMind2 holds {t2:,}, all active (total - active = "
        "(routed - top_k) x layers x 3 x 640 x 1728)",
        "MiniMind2-MoE({routed} 个路由专家,top-{k},{shared} 个共享专家,hidden 640,8 层)共有 {t:,} "
        "个参数,但每个 token 只用到 {a:,} 个:{i:,} 个权重(每层 {idle_experts} 个专家、每个 {pe:,},共 {l} "
        "层)对它闲置。稠密的 MiniMind2 有 {t2:,} 个参数,全部激活(总参数 - 激活参数 = "
        "(路由专家数 - top_k) x 层数 x 3 x 640 x 1728)",
        p["total"] - p["active"] == idle and p["expert"] == 3 * 640 * 1728,
        routed=p["routed"], k=p["top_k"], shared=p["shared"], t=p["total"], a=p["active"], i=idle,
        idle_experts=p["routed"] - p["top_k"], pe=p["expert"], l=p["layers"], t2=presets["minimind2"]["total"])


def findings_loss(ctx: ExperimentContext, runs: dict, names: list[str], seeds: list[int], steps: int,
                  unigram: float) -> None:
    loss = {key: r["val_loss"] for key, r in runs.items()}
    gaps = [loss["moe", s] - loss["dense", s] for s in seeds]  # < 0: the MoE is ahead
    noise = max(abs(loss[n, seeds[0]] - loss[n, seeds[1]]) for n in ("dense", "moe"))
    if all(g < 0 for g in gaps):
        verdict = ("the MoE is ahead in both seeds", "两个种子下 MoE 都领先")
    elif all(g > 0 for g in gaps):
        verdict = ("the dense model is ahead in both seeds", "两个种子下都是稠密模型领先")
    else:
        verdict = ("the seeds disagree on the sign", "两个种子给出的方向相反")
    cv = max(max(runs["moe", s]["cv"]) for s in seeds)
    even = ("stayed even", "保持均匀") if cv < 0.3 else ("was uneven", "并不均匀")
    ctx.finding(
        "After {s} steps both models use context, held-out loss below the {u:.3f} of byte frequencies: dense "
        "{d}, MoE {m} (seeds {seeds}). MoE - dense: {g}; {v}; seed-to-seed spread of one model up to {n:.3f}. "
        "The MoE's expert load {ev} (CV of the shares at most {cv:.2f})",
        "训练 {s} 步后,两个模型都用上了上下文,验证损失都低于只按字节频率预测的 {u:.3f}:稠密 {d},MoE {m}"
        "(种子 {seeds})。MoE - 稠密:{g};{v_zh};同一模型换种子的差异最大 {n:.3f}。MoE 的专家负载{ev_zh}"
        "(份额的变异系数最大 {cv:.2f})",
        Bar({"en": "byte-frequency loss minus the highest loss", "zh": "字节频率损失减去最高的损失"},
            unigram - max(loss.values()), ">", 0.3), s=steps, u=unigram, cv=cv, ev=even[0], ev_zh=even[1],
        d=" / ".join(f"{loss['dense', s]:.3f}" for s in seeds), m=" / ".join(f"{loss['moe', s]:.3f}" for s in seeds),
        seeds=" / ".join(map(str, seeds)), g=" / ".join(f"{g:+.3f}" for g in gaps), v=verdict[0],
        v_zh=verdict[1], n=noise)
    if "dense-wide" not in names:
        return
    wide = [loss["dense-wide", s] for s in seeds]
    ctx.finding(
        "Total parameters help when they are all active: the dense model with the MoE's total FFN weights "
        "(width 384, twice the FFN compute per token) reaches {w} against dense {d} and MoE {m}",
        "总参数全部激活时才真正占优:FFN 总权重与 MoE 相同(宽 384,每个 token 的 FFN 计算量翻倍)的稠密模型"
        "达到 {w},稠密模型为 {d},MoE 为 {m}",
        Bar({"en": "smallest lead of the wide model over the better other", "zh": "宽模型对另两者中较好者的最小领先"},
            min(min(loss["dense", s], loss["moe", s]) - loss["dense-wide", s] for s in seeds), ">", 0),
        w=" / ".join(f"{v:.3f}" for v in wide), d=" / ".join(f"{loss['dense', s]:.3f}" for s in seeds),
        m=" / ".join(f"{loss['moe', s]:.3f}" for s in seeds))


def findings_speed(ctx: ExperimentContext, work: dict, counts: dict) -> None:
    moe, dense = work["moe"], work["dense"]
    ratio, low, high = work["time_ratio"]
    ctx.code_fact(
        "Equal FLOPs are not equal work: at a FLOP ratio of {f:.3f}, a MoE training step runs {om} tensor operations "
        "({mm} matrix multiplies) against the dense model's {od} ({md}): the per-expert loop, the index gathering and "
        "index_add, which a FLOP count does not see (counted as they ran: more than 1.5x the operations "
        "and more, smaller matmuls, by construction). On this CPU the step took {m:.1f} vs {d:.1f} ms of CPU time, "
        "{r:.2f}x (median of interleaved "
        "rounds, middle half {lo:.2f}-{hi:.2f}; reported, not checked: other processes move a timing)",
        "FLOPs 相同不等于工作量相同:FLOPs 之比为 {f:.3f} 时,MoE 一个训练步要执行 {om} 个张量运算(其中矩阵乘法 "
        "{mm} 个),稠密模型是 {od} 个({md} 个):逐个专家的循环、按索引取 token 和 index_add,FLOPs 统计看不到它们"
        "(运行时计数:按构造,运算数 > 1.5 倍,矩阵乘法更多、更小)。在这台 CPU 上,一步的 CPU 时间是 {m:.1f} 对 "
        "{d:.1f} ms,{r:.2f} 倍(交替多轮的中位数,中间一半在 {lo:.2f}-{hi:.2f};只报告、不作检验:其他进程会影响耗时)",
        moe["ops"] > 1.5 * dense["ops"] and moe["matmuls"] > dense["matmuls"],
        f=counts["moe"]["flops"] / counts["dense"]["flops"], om=moe["ops"], mm=moe["matmuls"], od=dense["ops"],
        md=dense["matmuls"], m=1000 * moe["seconds"], d=1000 * dense["seconds"], r=ratio, lo=low, hi=high)


def smooth(values: list[float], window: int = 20) -> list[float]:
    return [sum(values[max(0, i - window + 1):i + 1]) / len(values[max(0, i - window + 1):i + 1])
            for i in range(len(values))]


def plot(ctx: ExperimentContext, runs: dict, names: list[str], seeds: list[int], counts: dict) -> None:
    plt = ctx.plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = {"dense": "tab:blue", "moe": "tab:orange", "dense-wide": "tab:green"}
    for n in names:
        for s, style in zip(seeds, ("-", "--"), strict=True):
            left.plot(smooth(runs[n, s]["losses"]), style, color=colors[n], lw=1,
                      label=f"{n}, seed {s} (held-out {runs[n, s]['val_loss']:.3f})")
    left.set_xlabel("training step")
    left.set_ylabel("training cross-entropy, nats per byte (20-step mean)")
    left.legend(fontsize=7)
    shown = [n for n in MODELS if n in counts]
    x = range(len(shown))
    right.bar([i - 0.2 for i in x], [counts[n]["total"] for n in shown], 0.4, label="total parameters")
    right.bar([i + 0.2 for i in x], [counts[n]["active"] for n in shown], 0.4, label="active per token")
    right.set_xticks(list(x), shown)
    right.set_ylabel("parameters")
    right.legend()
    fig.suptitle("Dense vs MoE at equal active parameters")
    ctx.savefig(fig, "dense_vs_moe.png")


if __name__ == "__main__":
    main(__file__)
