"""Normalization exp2: LayerNorm vs RMSNorm.

LayerNorm centres each vector (subtract the mean) and scales it to unit variance, then
applies a weight and a bias. RMSNorm only scales to unit root-mean-square and applies a
weight. This experiment measures where they agree (zero-mean input), where they differ,
their parameter counts, and their speed, timed fairly: same dtype, warm-up, median of
repeats, and both written with the same primitive operations.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from minimind_notes.curriculum.experiment import ExperimentContext, main
from minimind_notes.model import RMSNorm

DIM = 512


def layer_norm_from_scratch(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                            eps: float = 1e-5) -> torch.Tensor:
    """Two reductions (mean, variance) and a shift: what RMSNorm leaves out."""
    mean = x.mean(-1, keepdim=True)
    var = (x - mean).pow(2).mean(-1, keepdim=True)
    return (x - mean) * torch.rsqrt(var + eps) * weight + bias


def median_seconds(fn, repeats: int) -> float:  # noqa: ANN001
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


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
    t_rms = median_seconds(lambda: rms(big), repeats)
    t_ln_scratch = median_seconds(lambda: layer_norm_from_scratch(big, ln.weight, ln.bias), repeats)
    t_ln_fused = median_seconds(lambda: F.layer_norm(big, (DIM,), ln.weight, ln.bias), repeats)
    ratio = t_rms / t_ln_scratch
    ctx.metric("max_diff_zero_mean_input", same_on_centred)
    ctx.metric("max_diff_shifted_input", diff_on_shifted)
    ctx.metric("ms_rmsnorm", t_rms * 1e3)
    ctx.metric("ms_layernorm_same_ops", t_ln_scratch * 1e3)
    ctx.metric("ms_layernorm_fused_kernel", t_ln_fused * 1e3)
    ctx.table({"en": f"Normalizing {rows * 16} x {DIM} fp32 values (median of {repeats})",
               "zh": f"归一化 {rows * 16} x {DIM} 个 fp32 数值({repeats} 次取中位数)"},
              ["norm", "parameters", "reductions", "ms"],
              [["RMSNorm (MiniMind)", sum(p.numel() for p in rms.parameters()), 1, t_rms * 1e3],
               ["LayerNorm, same primitive ops", sum(p.numel() for p in ln.parameters()), 2,
                t_ln_scratch * 1e3],
               ["LayerNorm, PyTorch fused kernel", sum(p.numel() for p in ln.parameters()), 2,
                t_ln_fused * 1e3]])

    ctx.finding(
        "On zero-mean input LayerNorm and RMSNorm give the same output: max difference {d:.2e} "
        "(check: < 1e-5)",
        "输入均值为 0 时 LayerNorm 与 RMSNorm 输出相同:最大差 {d:.2e}(检验:< 1e-5)",
        same_on_centred < 1e-5, d=same_on_centred)
    ctx.finding(
        "On input with mean 3 they differ by up to {d:.2f}: LayerNorm removes the mean, RMSNorm keeps "
        "it (check: > 0.1)",
        "输入均值为 3 时两者最大相差 {d:.2f}:LayerNorm 去掉均值,RMSNorm 保留(检验:> 0.1)",
        diff_on_shifted > 0.1, d=diff_on_shifted)
    ctx.finding(
        "RMSNorm has {p_rms} parameters (a weight) vs LayerNorm's {p_ln} (weight + bias) at width {dim} "
        "(check: exactly half)",
        "宽度 {dim} 时 RMSNorm 有 {p_rms} 个参数(只有 weight),LayerNorm 有 {p_ln} 个(weight + bias)"
        "(检验:正好一半)",
        2 * sum(p.numel() for p in rms.parameters()) == sum(p.numel() for p in ln.parameters()),
        p_rms=sum(p.numel() for p in rms.parameters()), p_ln=sum(p.numel() for p in ln.parameters()),
        dim=DIM)
    ctx.finding(
        "Built from the same primitive ops, RMSNorm takes {r:.2f}x the time of LayerNorm: one reduction "
        "and no centring (check: < 1.0; the from-scratch LayerNorm matches PyTorch's to {e:.1e})",
        "用同样的基本算子实现时,RMSNorm 耗时是 LayerNorm 的 {r:.2f} 倍:少一次归约、不做中心化"
        "(检验:< 1.0;手写 LayerNorm 与 PyTorch 的相差 {e:.1e})",
        ratio < 1.0 and scratch_error < 1e-5, r=ratio, e=scratch_error)
    ctx.log("A fused kernel changes the picture: PyTorch's LayerNorm kernel takes {f:.2f} ms here vs "
            "{r:.2f} ms for the op-by-op RMSNorm. Fewer operations is an advantage of the algorithm; how "
            "fast it runs also depends on the kernel (GPU stacks ship fused RMSNorm kernels).",
            "融合算子会改变结论:这里 PyTorch 的 LayerNorm 融合内核耗时 {f:.2f} ms,逐算子实现的 RMSNorm "
            "耗时 {r:.2f} ms。运算更少是算法的优势;实际速度还取决于内核实现(GPU 上有融合的 RMSNorm 内核)。",
            f=t_ln_fused * 1e3, r=t_rms * 1e3)

    plt = ctx.plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    sample = x[0] + 3
    axes[0].plot(sample.numpy(), alpha=0.5, label="input (mean ~3.5)")
    axes[0].plot(ln(sample).numpy(), label="LayerNorm")
    axes[0].plot(rms(sample).numpy(), label="RMSNorm")
    axes[0].set_title("Same vector, two norms")
    axes[0].legend()
    axes[1].bar(["RMSNorm", "LayerNorm\n(same ops)", "LayerNorm\n(fused)"],
                [t_rms * 1e3, t_ln_scratch * 1e3, t_ln_fused * 1e3])
    axes[1].set_ylabel("ms (median)")
    axes[1].set_title("Time to normalize")
    ctx.savefig(fig, "layernorm_vs_rmsnorm.png")


if __name__ == "__main__":
    main(__file__)
