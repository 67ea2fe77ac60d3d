"""Feedforward exp1: expand, gate, compress, and does SwiGLU beat GELU and ReLU here?

(a) The FFN of MiniMind2-small, step by step. Every position's 512-dim vector is projected up to
1408 dims twice (gate and up), combined as silu(gate) * up, and projected back down to 512. We
trace the shapes, check the hand computation against the real `FeedForward`, count its weights
(3 x 512 x 1408) and measure what share of the whole 25.8M-parameter model the FFNs hold.

(b) SwiGLU vs the classic two-matrix FFN with GELU or ReLU, at equal parameter count (the
classic FFN is 1.5x wider: 2 x 64 x 288 = 3 x 64 x 192). Three small byte-level LMs identical in
everything else are trained with the same seeds (3 of them), data order and steps, and scored on
held-out text; the spread over seeds is the noise a difference must beat. SwiGLU is what MiniMind and
most current LLMs use; whether it pays off in a tiny model trained for a few hundred steps is a
separate question, answered here by measurement. We also
measure how loud each FFN is at initialization (its output RMS relative to its input).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from minimind_notes.lab.byte_lm import ByteBatches, corpus_text, eval_loss, train_lm, unigram_entropy
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.lab.variants import ClassicFFN, VariantConfig, VariantLM
from minimind_notes.model import FeedForward, MiniMindConfig, MiniMindForCausalLM, preset
from minimind_notes.model.config import default_intermediate_size

FFNS = ["swiglu", "gelu", "relu"]
SEQ, BATCH, LR = 64, 16, 3e-3


# -- (a) the real FFN, step by step -----------------------------------------------------------
@torch.no_grad()
def trace_ffn(config: MiniMindConfig) -> dict:
    ffn = FeedForward(config).eval()
    x = torch.randn(2, 8, config.hidden_size)  # (B, T, C): 2 sequences of 8 positions
    gate = ffn.gate_proj(x)  # (B, T, I): expand
    up = ffn.up_proj(x)  # (B, T, I): expand, second branch
    hidden = F.silu(gate) * up  # (B, T, I): the gate decides how much of `up` passes, per unit
    out = ffn.down_proj(hidden)  # (B, T, C): compress back
    # Each position is processed on its own: changing position 0 leaves the others unchanged.
    x2 = x.clone()
    x2[:, 0] += 1.0
    leak = float((ffn(x2)[:, 1:] - ffn(x)[:, 1:]).abs().max())
    return {
        "shapes": [("input x", tuple(x.shape)), ("gate_proj(x)", tuple(gate.shape)),
                   ("up_proj(x)", tuple(up.shape)), ("silu(gate) * up", tuple(hidden.shape)),
                   ("down_proj(...)", tuple(out.shape))],
        "hand_vs_module": float((out - ffn(x)).abs().max()),
        "params": sum(p.numel() for p in ffn.parameters()),
        "leak_to_other_positions": leak,
    }


def model_share(config: MiniMindConfig) -> tuple[int, int]:
    """(parameters in all FFNs, parameters of the whole model), counted on the real model.

    Built on the meta device: every parameter has its real shape but no memory and no init cost."""
    with torch.device("meta"):
        model = MiniMindForCausalLM(config)
    ffn = sum(p.numel() for layer in model.model.layers for p in layer.mlp.parameters())
    return ffn, model.num_parameters()


# -- (b) SwiGLU vs GELU vs ReLU ------------------------------------------------------------------
@torch.no_grad()
def ffn_gain_at_init(model: VariantLM, ids: torch.Tensor) -> float:
    """RMS of the first FFN's output divided by the RMS of its (normalized) input."""
    seen = {}
    hook = model.model.layers[0].mlp.register_forward_hook(
        lambda module, inputs, output: seen.update(x=inputs[0], y=output))
    model(ids)
    hook.remove()
    return float(seen["y"].pow(2).mean().sqrt() / seen["x"].pow(2).mean().sqrt())


def train_variant(ffn: str, steps: int, seed: int, val: torch.Tensor, precision: str) -> dict:
    torch.manual_seed(seed)  # the same initial embeddings, attention and head for every variant
    model = VariantLM(VariantConfig(ffn=ffn))
    gain = ffn_gain_at_init(model, val[:8])
    log = train_lm(model, ByteBatches(corpus_text("train"), seed=seed), steps, batch_size=BATCH,
                   seq_len=SEQ, lr=LR, precision=precision)
    ffn_params = sum(p.numel() for layer in model.model.layers for p in layer.mlp.parameters())
    return {"losses": log.losses, "val_loss": eval_loss(model, val), "params": model.num_parameters(),
            "ffn_params": ffn_params, "init_gain": gain}


def smooth(values: list[float], window: int) -> list[float]:
    return [sum(values[max(0, i - window + 1):i + 1]) / len(values[max(0, i - window + 1):i + 1])
            for i in range(len(values))]


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # tiny matrices: on a busy CPU a second thread made steps several times slower
    config = preset("minimind2-small")
    trace = trace_ffn(config)
    ffn_total, model_total = model_share(config)
    classic_ffn = ClassicFFN(config.hidden_size, 4 * config.hidden_size, "gelu")  # 512 -> 2048 -> 512
    classic = sum(p.numel() for p in classic_ffn.parameters())
    ctx.metric("ffn_shapes", {name: list(shape) for name, shape in trace["shapes"]})
    ctx.metric("ffn_params_minimind2_small", trace["params"])
    ctx.metric("ffn_params_all_layers", ffn_total)
    ctx.metric("model_params", model_total)
    ctx.metric("classic_4x_ffn_params", classic)
    ctx.table({"en": "(a) MiniMind2-small's FeedForward on a (2, 8, 512) input",
               "zh": "(a) MiniMind2-small 的 FeedForward,输入形状 (2, 8, 512)"},
              ["step", "shape"], [[name, str(shape)] for name, shape in trace["shapes"]])
    ctx.log("(a) intermediate_size = 64 * ceil(int(512 * 8/3) / 64) = {i}; the FFN has {p:,} weights.",
            "(a) intermediate_size = 64 * ceil(int(512 * 8/3) / 64) = {i};FFN 共有 {p:,} 个权重。",
            i=config.intermediate_size, p=trace["params"])

    steps = 80 if ctx.quick else 300
    val = ByteBatches(corpus_text("val")).fixed(32 if ctx.quick else 64, SEQ)  # (N, T) held-out windows
    seeds = [ctx.seed + i for i in range(3)]  # one run per FFN proves little: the seed spread is the noise
    ctx.log("(b) VariantLM (hidden 64, 2 layers) with each FFN: {s} steps, batch {b} x {t} bytes, lr {lr}, "
            "seeds {seeds} (held-out losses below are means over the seeds).",
            "(b) VariantLM(hidden 64,2 层)分别配三种 FFN:{s} 步,batch {b} x {t} 字节,学习率 {lr},"
            "种子 {seeds}(下面的验证损失是各种子的均值)。", s=steps, b=BATCH, t=SEQ, lr=LR,
            seeds=", ".join(map(str, seeds)))
    results = {}
    for ffn in FFNS:
        runs = [train_variant(ffn, steps, seed, val, ctx.precision) for seed in seeds]
        seed_losses = [r["val_loss"] for r in runs]
        results[ffn] = {**runs[0], "seed_losses": seed_losses, "val_loss": sum(seed_losses) / len(seed_losses)}
    for ffn, r in results.items():
        ctx.metric(f"val_loss_{ffn}", r["val_loss"])
        ctx.metric(f"val_loss_per_seed_{ffn}", r["seed_losses"])
        ctx.metric(f"params_{ffn}", r["params"])
        ctx.metric(f"train_losses_{ffn}", r["losses"])
        ctx.metric(f"ffn_gain_at_init_{ffn}", r["init_gain"])
    ctx.table({"en": f"(b) Held-out loss after {steps} steps (nats per byte; uniform guessing = "
                     f"{math.log(256):.2f})",
               "zh": f"(b) 训练 {steps} 步后的验证损失(每字节 nats;均匀猜测 = {math.log(256):.2f})"},
              ["FFN", "model parameters", "FFN parameters", "FFN out/in RMS at init",
               "train loss (last 10 steps, first seed)", "held-out loss, mean", "per seed"],
              [[ffn, r["params"], r["ffn_params"], r["init_gain"], sum(r["losses"][-10:]) / 10, r["val_loss"],
                " / ".join(f"{v:.3f}" for v in r["seed_losses"])] for ffn, r in results.items()])

    findings_a(ctx, config, trace, ffn_total, model_total, classic)
    findings_b(ctx, results, unigram_entropy(corpus_text("train")))
    plot(ctx, results)


def findings_a(ctx: ExperimentContext, config: MiniMindConfig, trace: dict, ffn_total: int,
               model_total: int, classic: int) -> None:
    c, i = config.hidden_size, config.intermediate_size
    shapes = [shape for _, shape in trace["shapes"]]
    ctx.code_fact(
        "Expand, gate, compress: each position's {c} numbers go to {i} (gate and up), are combined "
        "elementwise and come back to {c}; the hand computation matches FeedForward to {e:.1e}, and changing "
        "one position changes no other position's output (max change {leak:.1e}): shapes "
        "{c} -> {i} -> {c}, both differences < 1e-5, by construction",
        "先扩展、再门控、再压缩:每个位置的 {c} 个数先被投影到 {i} 维(gate 和 up 两路),逐元素相乘后"
        "再回到 {c} 维;手算结果与 FeedForward 相差 {e:.1e},且改动一个位置不会改变其他位置的输出"
        "(最大变化 {leak:.1e}):形状为 {c} -> {i} -> {c},两个差异都 < 1e-5,由构造保证",
        shapes[0][-1] == c and shapes[3][-1] == i == default_intermediate_size(c) and shapes[4][-1] == c
        and trace["hand_vs_module"] < 1e-5 and trace["leak_to_other_positions"] < 1e-5,
        c=c, i=i, e=trace["hand_vs_module"], leak=trace["leak_to_other_positions"])
    ctx.code_fact(
        "One FFN holds 3 x {c} x {i} = {p:,} weights ({q:,} for a classic 4x two-matrix FFN); the "
        "{n} FFNs hold {f:,} of the model's {m:,} parameters, {share:.0%}, more than half (counted from the config)",
        "一个 FFN 有 3 x {c} x {i} = {p:,} 个权重(经典的 4 倍宽双矩阵 FFN 为 {q:,});{n} 个 FFN 共 "
        "{f:,} 个参数,占模型 {m:,} 个参数的 {share:.0%},超过一半(由配置数出)",
        trace["params"] == 3 * c * i and ffn_total / model_total > 0.5,
        c=c, i=i, p=trace["params"], q=classic, n=config.num_hidden_layers, f=ffn_total, m=model_total,
        share=ffn_total / model_total)


def findings_b(ctx: ExperimentContext, results: dict, unigram: float) -> None:
    params = {ffn: r["params"] for ffn, r in results.items()}
    losses = {ffn: r["val_loss"] for ffn, r in results.items()}
    ctx.code_fact(
        "The three models have the same size: {p} parameters (SwiGLU, GELU, ReLU; the classic FFN is 1.5x wider)",
        "三个模型大小相同:参数量 {p}(SwiGLU、GELU、ReLU;经典 FFN 宽 1.5 倍)",
        len(set(params.values())) == 1, p=" / ".join(f"{v:,}" for v in params.values()))
    ctx.finding(
        "All three use context: held-out loss {s:.3f} / {g:.3f} / {r:.3f} nats per byte (SwiGLU, GELU, ReLU), "
        "below the {h:.2f} of predicting byte frequencies alone ({u:.2f} for uniform guessing)",
        "三个模型都用上了上下文:验证损失分别为 {s:.3f} / {g:.3f} / {r:.3f} nats/字节(SwiGLU、GELU、ReLU),"
        "低于只按字节频率预测的 {h:.2f}(均匀猜测为 {u:.2f})",
        Bar({"en": "largest held-out loss", "zh": "最大的验证损失"}, max(losses.values()), "<", unigram),
        s=losses["swiglu"], g=losses["gelu"], r=losses["relu"], h=unigram, u=math.log(256))
    per_seed = {ffn: r["seed_losses"] for ffn, r in results.items()}
    leads = [min(g, s) - r for g, s, r in zip(per_seed["gelu"], per_seed["swiglu"], per_seed["relu"], strict=True)]
    spread = max(max(v) - min(v) for v in per_seed.values())  # the same FFN, another seed
    lead = sum(leads) / len(leads)
    ctx.metric("relu_lead_per_seed", leads)
    ctx.metric("relu_mean_lead", lead)
    ctx.metric("seed_spread", spread)
    # Paired by seed (same init of everything else, same data order), the lead's own spread is its noise:
    # far smaller than one FFN's spread across seeds, which moves all three models together.
    ctx.finding(
        "After {n} steps ReLU is ahead on each of {k} seeds: mean held-out loss {r:.3f} vs {g:.3f} (GELU) and "
        "{s:.3f} (SwiGLU). One FFN's loss moves by up to {sp:.3f} from seed to seed, but paired by seed (same "
        "data order, same init of the rest) ReLU's lead is {l}, mean {m:.3f}: larger than its own spread across "
        "seeds. SwiGLU, MiniMind's choice, shows no advantage at this scale and training length",
        "训练 {n} 步后,{k} 个种子上都是 ReLU 领先:平均验证损失 {r:.3f},GELU 为 {g:.3f},SwiGLU 为 {s:.3f}。"
        "同一种 FFN 换种子时损失最多变化 {sp:.3f},但按种子配对(相同的数据顺序和其余部分的初始化)后,"
        "ReLU 的领先幅度为 {l},平均 {m:.3f},大于它自身在种子间的波动。在这个规模和训练长度下,"
        "MiniMind 选用的 SwiGLU 并没有优势",
        [Bar({"en": "ReLU's smallest lead", "zh": "ReLU 的最小领先幅度"}, min(leads), ">", 0),
         Bar({"en": "mean lead minus its spread across seeds", "zh": "平均领先幅度减去其种子间波动"},
             lead - (max(leads) - min(leads)), ">", 0)],
        n=len(results["relu"]["losses"]), k=len(leads), r=losses["relu"], g=losses["gelu"], s=losses["swiglu"],
        l=" / ".join(f"{v:+.3f}" for v in leads), m=lead, sp=spread)
    gain = {ffn: r["init_gain"] for ffn, r in results.items()}
    ctx.finding(
        "SwiGLU starts from a much quieter FFN: at init its output is {rr:.1f}x smaller than ReLU's and "
        "{rg:.1f}x smaller than GELU's (output/input RMS {gs:.4f} vs {gr:.4f} and {gg:.4f}), because "
        "silu(gate) * up multiplies two small projections",
        "SwiGLU 的 FFN 起点输出小得多:初始化时它的输出比 ReLU 小 {rr:.1f} 倍,比 GELU 小 {rg:.1f} 倍"
        "(输出/输入 RMS 为 {gs:.4f},对比 {gr:.4f} 和 {gg:.4f}),因为 silu(gate) * up 是两个很小的投影相乘",
        [Bar({"en": "ReLU's / SwiGLU's", "zh": "ReLU / SwiGLU"}, gain["relu"] / gain["swiglu"], ">", 5),
         Bar({"en": "GELU's / SwiGLU's", "zh": "GELU / SwiGLU"}, gain["gelu"] / gain["swiglu"], ">", 2)],
        rr=gain["relu"] / gain["swiglu"], rg=gain["gelu"] / gain["swiglu"], gs=gain["swiglu"],
        gr=gain["relu"], gg=gain["gelu"])


def plot(ctx: ExperimentContext, results: dict) -> None:
    plt = ctx.plt
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for ffn, r in results.items():
        ax.plot(smooth(r["losses"], 10), label=f"{ffn} (held-out, mean of seeds {r['val_loss']:.3f})")
    ax.axhline(math.log(256), color="grey", lw=0.6, ls="--", label="uniform guessing, ln 256")
    ax.set_xlabel("training step (first seed)")
    ax.set_ylabel("training loss, nats per byte (10-step mean)")
    ax.set_title("SwiGLU vs GELU vs ReLU FFN at equal parameter count")
    ax.legend()
    ctx.savefig(fig, "ffn_variants.png")


if __name__ == "__main__":
    main(__file__)
