"""Normalization exp1: why deep networks need normalization.

Pushes a batch of std-1 vectors through 10 layers of Linear(512, 512) + ReLU and
measures the activation std after every layer: with PyTorch's default init (shrinks),
with a larger init (grows), and with MiniMind's RMSNorm after each layer (stays put).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.model import RMSNorm

LAYERS, WIDTH, BATCH = 10, 512, 100


def activation_stats(x: torch.Tensor, layers: list[nn.Linear], norms: list[nn.Module] | None):
    """std and root-mean-square of the activations after each layer."""
    stds, rmss = [float(x.std())], [float(x.pow(2).mean().sqrt())]
    for i, linear in enumerate(layers):
        x = torch.relu(linear(x))
        if norms is not None:
            x = norms[i](x)
        stds.append(float(x.std()))
        rmss.append(float(x.pow(2).mean().sqrt()))
    return stds, rmss


@torch.no_grad()
def run(ctx: ExperimentContext) -> None:
    x = torch.randn(BATCH, WIDTH)
    layers = [nn.Linear(WIDTH, WIDTH) for _ in range(LAYERS)]  # PyTorch's default init
    norms = [RMSNorm(WIDTH) for _ in range(LAYERS)]
    plain_std, _ = activation_stats(x, layers, None)
    norm_std, norm_rms = activation_stats(x, layers, norms)
    unbiased = [nn.Linear(WIDTH, WIDTH) for _ in range(LAYERS)]
    for layer, original in zip(unbiased, layers, strict=True):  # the same weights, biases removed
        layer.weight.copy_(original.weight)
        layer.bias.zero_()
    unbiased_std, _ = activation_stats(x, unbiased, None)
    big = [nn.Linear(WIDTH, WIDTH) for _ in range(LAYERS)]
    for layer in big:  # std 3/sqrt(fan_in): each Linear+ReLU multiplies the variance by ~4.5
        nn.init.normal_(layer.weight, std=3 / WIDTH**0.5)
    big_std, _ = activation_stats(x, big, None)
    big_norm_std, _ = activation_stats(x, big, norms)

    ctx.metric("std_per_layer_no_norm", plain_std)
    ctx.metric("std_per_layer_no_norm_no_bias", unbiased_std)
    ctx.metric("std_per_layer_rmsnorm", norm_std)
    ctx.metric("rms_per_layer_rmsnorm", norm_rms)
    ctx.metric("std_per_layer_large_init", big_std)
    ctx.metric("std_per_layer_large_init_rmsnorm", big_norm_std)
    ctx.table({"en": "Activation std after each layer", "zh": "每层之后的激活标准差"},
              ["layer", "no norm", "RMSNorm", "large init", "large init + RMSNorm"],
              [[i, plain_std[i], norm_std[i], big_std[i], big_norm_std[i]] for i in range(LAYERS + 1)])

    ctx.log("Input std {s:.3f}. Each layer: Linear(512, 512) + ReLU, then RMSNorm or nothing.",
            "输入标准差 {s:.3f}。每层:Linear(512, 512) + ReLU,之后接 RMSNorm 或什么都不接。", s=plain_std[0])
    ctx.finding(
        "Without normalization the activation std falls from {s0:.3f} to {s10:.4f} after 10 layers (vanishing)",
        "无归一化时,激活标准差在 10 层后从 {s0:.3f} 降到 {s10:.4f}(消失)",
        Bar({"en": "std after 10 layers", "zh": "10 层后的标准差"}, plain_std[-1], "<", 0.05),
        s0=plain_std[0], s10=plain_std[-1])
    gain = math.sqrt(1 / 6)  # default init: variance 1/(3 fan_in) per weight, then ReLU halves the mean square
    ctx.finding(
        "The fall stops at about {s10:.3f} because of the layers' biases, which do not shrink with the signal: "
        "with the same weights and zero biases the std keeps falling, to {z:.1e} after 10 layers, near the predicted "
        "{g:.2f}^10 = {p:.1e}",
        "下降停在 {s10:.3f} 左右,是因为各层的 bias 不随信号缩小:同样的权重、bias 置零后标准差一直下降,"
        "10 层后为 {z:.1e},接近预测的 {g:.2f}^10 = {p:.1e}",
        [Bar({"en": "std with biases / without", "zh": "有 bias / 无 bias 的标准差之比"},
             plain_std[-1] / unbiased_std[-1], ">", 10),
         Bar({"en": "measured / predicted without biases", "zh": "无 bias 时实测 / 预测"},
             unbiased_std[-1] / (plain_std[0] * gain**LAYERS), "<", 3),
         Bar({"en": "measured / predicted without biases", "zh": "无 bias 时实测 / 预测"},
             unbiased_std[-1] / (plain_std[0] * gain**LAYERS), ">", 1 / 3)],
        s10=plain_std[-1], z=unbiased_std[-1], g=gain, p=plain_std[0] * gain**LAYERS)
    ctx.finding(
        "With a larger init (std 3/sqrt(512)) it explodes instead: {s10:.1f} after 10 layers",
        "换成更大的初始化(std 3/sqrt(512))则会爆炸:10 层后达到 {s10:.1f}",
        Bar({"en": "std after 10 layers", "zh": "10 层后的标准差"}, big_std[-1], ">", 100), s10=big_std[-1])
    relu_prediction = math.sqrt(1 - 1 / math.pi)  # ReLU(z), z Gaussian: mean^2 / mean square = 1/pi
    normed = norm_std[1:] + big_norm_std[1:]
    ctx.finding(
        "With RMSNorm after each layer the std sits at {lo:.3f}-{hi:.3f} at every depth, for both inits. "
        "Predicted: RMSNorm fixes the RMS at 1, and a ReLU of Gaussian pre-activations has mean^2 / mean square "
        "= 1/pi, so std = sqrt(1 - 1/pi) = {p:.3f}",
        "每层后接 RMSNorm,两种初始化下每一层的标准差都在 {lo:.3f}-{hi:.3f} 之间。预测值:RMSNorm 把 RMS 固定为 1,"
        "而高斯预激活经过 ReLU 后 均值^2 / 均方 = 1/pi,所以 std = sqrt(1 - 1/pi) = {p:.3f}",
        Bar({"en": "largest distance from the prediction", "zh": "与预测值的最大偏差"},
            max(abs(v - relu_prediction) for v in normed), "<", 0.04),
        lo=min(normed), hi=max(normed), p=relu_prediction)
    ctx.code_fact(
        "RMSNorm fixes the root mean square, not the std: RMS = {rms:.3f}, std = {std:.3f}; the gap is "
        "the positive mean of ReLU outputs (by construction: |RMS - 1| < 0.01 and std < RMS)",
        "RMSNorm 固定的是均方根而不是标准差:RMS = {rms:.3f},std = {std:.3f};差距来自 ReLU 输出的正均值"
        "(由构造保证:|RMS - 1| < 0.01 且 std < RMS)",
        abs(norm_rms[-1] - 1) < 0.01 and norm_std[-1] < norm_rms[-1], rms=norm_rms[-1], std=norm_std[-1])

    plt = ctx.plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    depth = list(range(LAYERS + 1))
    axes[0].semilogy(depth, plain_std, "o-", label="no norm (default init)")
    axes[0].semilogy(depth, unbiased_std, "x--", label="no norm, biases zeroed")
    axes[0].semilogy(depth, norm_std, "s-", label="RMSNorm after each layer")
    axes[0].set_title("Vanishing: default init")
    axes[1].semilogy(depth, big_std, "o-", label="no norm (init std 3/sqrt(512))")
    axes[1].semilogy(depth, big_norm_std, "s-", label="RMSNorm after each layer")
    axes[1].set_title("Exploding: larger init")
    for ax in axes:
        ax.set_xlabel("layer")
        ax.set_ylabel("activation std (log scale)")
        ax.legend()
    ctx.savefig(fig, "activation_std.png")


if __name__ == "__main__":
    main(__file__)
