"""Normalization exp2: LayerNorm vs RMSNorm.

LayerNorm centres each vector (subtract the mean) and scales it to unit variance, then
applies a weight and a bias. RMSNorm only scales to unit root-mean-square and applies a
weight. This experiment measures where they agree (zero-mean input), where they differ,
their parameter counts, the work each does (tensor operations, reductions and passes over
the full tensor, counted as they run), and their speed, timed fairly: same dtype, warm-up,
both written with the same primitive operations, the repeats interleaved (A, B, C, A, B, C, ...)
so that load from other processes falls on all of them, and medians. The speed is reported,
not checked: another process on the machine can move a timing, not an operation count.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.lab.measure import interleaved_times, median_ratio, recorded_ops
from minimind_notes.model import RMSNorm

DIM = 512


def layer_norm_from_scratch(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                            eps: float = 1e-5) -> torch.Tensor:
    """Two reductions (mean, variance) and a shift: what RMSNorm leaves out."""
    mean = x.mean(-1, keepdim=True)
    var = (x - mean).pow(2).mean(-1, keepdim=True)
    return (x - mean) * torch.rsqrt(var + eps) * weight + bias


def count_work(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> dict:
    """Tensor operations `fn(x)` runs; reductions among them (output smaller than the input); and
    passes over the full tensor (operations that read an input as large as x): a normalization is
    limited by memory traffic, so these passes are what its time follows."""
    ops = recorded_ops(lambda: fn(x))
    return {"ops": len(ops), "reductions": sum(op.output_size < max(op.input_sizes, default=0) for op in ops),
            "full_passes": sum(x.numel() in op.input_sizes for op in ops), "names": [op.name for op in ops]}


@torch.no_grad()
def run(ctx: ExperimentContext) -> None:
    rms = RMSNorm(DIM)
    ln = nn.LayerNorm(DIM)  # weight and bias, as in BERT/GPT-2
    x = torch.randn(64, DIM) * 2 + 0.5
    centred = x - x.mean(-1, keepdim=True)
    same_on_centred = float((ln(centred) - rms(centred)).abs().max())
    diff_on_shifted = float((ln(x + 3) - rms(x + 3)).abs().max())
    scratch_error = float((layer_norm_from_scratch(x, ln.weight, ln.bias) - ln(x)).abs().max())

    rows = 256 if ctx.quick else 1024
    big = torch.randn(rows * 16, DIM)
    repeats = 15 if ctx.quick else 40
    work = {"rms": count_work(rms, big),
            "ln": count_work(lambda v: layer_norm_from_scratch(v, ln.weight, ln.bias), big)}
    rounds = interleaved_times({"rms": lambda: rms(big),
                                "ln": lambda: layer_norm_from_scratch(big, ln.weight, ln.bias),
                                "fused": lambda: F.layer_norm(big, (DIM,), ln.weight, ln.bias)}, repeats)
    t = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
    ratio, *spread = median_ratio(rounds, "rms", "ln")
    ctx.metric("max_diff_zero_mean_input", same_on_centred)
    ctx.metric("max_diff_shifted_input", diff_on_shifted)
    ctx.metric("work", work)
    ctx.metric("full_passes_rmsnorm", work["rms"]["full_passes"])
    ctx.metric("full_passes_layernorm", work["ln"]["full_passes"])
    ctx.metric("ms_rmsnorm", t["rms"] * 1e3)
    ctx.metric("ms_layernorm_same_ops", t["ln"] * 1e3)
    ctx.metric("ms_layernorm_fused_kernel", t["fused"] * 1e3)
    ctx.metric("time_ratio_rms_to_ln", ratio)
    ctx.metric("time_ratio_quartiles", list(spread))
    n_rms, n_ln = sum(p.numel() for p in rms.parameters()), sum(p.numel() for p in ln.parameters())
    ctx.table({"en": f"Normalizing {rows * 16} x {DIM} fp32 values (median of {repeats} interleaved rounds)",
               "zh": f"归一化 {rows * 16} x {DIM} 个 fp32 数值({repeats} 轮交替计时取中位数)"},
              ["norm", "parameters", "tensor ops", "reductions", "full-tensor passes", "ms"],
              [["RMSNorm (MiniMind)", n_rms, work["rms"]["ops"], work["rms"]["reductions"],
                work["rms"]["full_passes"], t["rms"] * 1e3],
               ["LayerNorm, same primitive ops", n_ln, work["ln"]["ops"], work["ln"]["reductions"],
                work["ln"]["full_passes"], t["ln"] * 1e3],
               ["LayerNorm, PyTorch fused kernel", n_ln, "1 kernel", "-", "-", t["fused"] * 1e3]])

    ctx.code_fact(
        "On zero-mean input LayerNorm and RMSNorm give the same output (var(x) = mean(x^2) when the mean is 0, a "
        "property of the formulas): max difference {d:.2e}, float rounding",
        "输入均值为 0 时 LayerNorm 与 RMSNorm 输出相同(均值为 0 时 var(x) = mean(x^2),这是公式的性质):"
        "最大差 {d:.2e},即浮点舍入",
        same_on_centred < 1e-5, d=same_on_centred)
    ctx.finding(
        "On input with mean 3 they differ by up to {d:.2f}: LayerNorm removes the mean, RMSNorm keeps it",
        "输入均值为 3 时两者最大相差 {d:.2f}:LayerNorm 去掉均值,RMSNorm 保留",
        Bar({"en": "largest difference", "zh": "最大差"}, diff_on_shifted, ">", 0.1), d=diff_on_shifted)
    ctx.code_fact(
        "RMSNorm has {p_rms} parameters (a weight) vs LayerNorm's {p_ln} (weight + bias) at width {dim}: d against 2d",
        "宽度 {dim} 时 RMSNorm 有 {p_rms} 个参数(只有 weight),LayerNorm 有 {p_ln} 个(weight + bias):d 对 2d",
        2 * n_rms == n_ln, p_rms=n_rms, p_ln=n_ln, dim=DIM)
    rw, lw = work["rms"], work["ln"]
    ctx.code_fact(
        "Built from the same primitive ops, RMSNorm does less work: {o1} tensor ops, {r1} reduction and {p1} passes "
        "over the full tensor, against LayerNorm's {o2}, {r2} and {p2} (counted as they ran; the from-scratch "
        "LayerNorm matches PyTorch's to {e:.1e})",
        "用同样的基本算子实现时,RMSNorm 做的事更少:{o1} 个张量运算、{r1} 次归约、{p1} 次读完整张量,"
        "LayerNorm 是 {o2}、{r2}、{p2}(运行时计数;手写 LayerNorm 与 PyTorch 的相差 {e:.1e})",
        [Bar({"en": "reductions LayerNorm minus RMSNorm", "zh": "归约次数 LayerNorm 减 RMSNorm"},
             lw["reductions"] - rw["reductions"], ">=", 1),
         Bar({"en": "full passes LayerNorm minus RMSNorm", "zh": "读完整张量次数 LayerNorm 减 RMSNorm"},
             lw["full_passes"] - rw["full_passes"], ">", 0),
         Bar({"en": "from-scratch LayerNorm vs PyTorch's", "zh": "手写 LayerNorm 与 PyTorch 的差"},
             scratch_error, "<", 1e-5)],
        o1=rw["ops"], r1=rw["reductions"], p1=rw["full_passes"], o2=lw["ops"], r2=lw["reductions"],
        p2=lw["full_passes"], e=scratch_error)
    ctx.log("Timed here, RMSNorm took {r:.2f}x LayerNorm's time (median of {n} interleaved rounds, middle half "
            "{lo:.2f}-{hi:.2f}); a timing is reported, not checked, since other processes on the machine move it.",
            "这里实测 RMSNorm 耗时是 LayerNorm 的 {r:.2f} 倍({n} 轮交替计时的中位数,中间一半在 {lo:.2f}-{hi:.2f});"
            "耗时只报告、不作检验,因为机器上的其他进程会影响它。", r=ratio, n=repeats, lo=spread[0], hi=spread[1])
    ctx.log("A fused kernel changes the picture: PyTorch's LayerNorm kernel takes {f:.2f} ms here vs "
            "{r:.2f} ms for the op-by-op RMSNorm. Fewer operations is an advantage of the algorithm; how "
            "fast it runs also depends on the kernel (GPU stacks ship fused RMSNorm kernels).",
            "融合算子会改变结论:这里 PyTorch 的 LayerNorm 融合内核耗时 {f:.2f} ms,逐算子实现的 RMSNorm "
            "耗时 {r:.2f} ms。运算更少是算法的优势;实际速度还取决于内核实现(GPU 上有融合的 RMSNorm 内核)。",
            f=t["fused"] * 1e3, r=t["rms"] * 1e3)

    plt = ctx.plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    sample = x[0] + 3
    axes[0].plot(sample.numpy(), alpha=0.5, label="input (mean ~3.5)")
    axes[0].plot(ln(sample).numpy(), label="LayerNorm")
    axes[0].plot(rms(sample).numpy(), label="RMSNorm")
    axes[0].set_title("Same vector, two norms")
    axes[0].legend()
    axes[1].bar(["RMSNorm", "LayerNorm\n(same ops)", "LayerNorm\n(fused)"],
                [t["rms"] * 1e3, t["ln"] * 1e3, t["fused"] * 1e3])
    axes[1].set_ylabel("ms (median)")
    axes[1].set_title("Time to normalize")
    ctx.savefig(fig, "layernorm_vs_rmsnorm.png")


if __name__ == "__main__":
    main(__file__)
