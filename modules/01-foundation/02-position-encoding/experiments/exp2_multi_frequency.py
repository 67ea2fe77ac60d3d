"""Position encoding exp2: RoPE's many frequencies, computed on MiniMind2's settings.

RoPE splits each 64-dim head into 32 pairs of dimensions and rotates pair i by the angle
position * freq_i, with freq_i = theta^(-2i/64) and theta = 1e6. A pair's wavelength,
2*pi / freq_i, is how many positions it takes to turn once. We read the frequencies from
the real `rope_frequencies`, measure the shortest and longest wavelengths against the 32768
positions MiniMind2 allows, check that they form a geometric series, and see which pairs
MiniMind2's YaRN setting (4x beyond 2048 trained positions) slows down. All of these follow from
the formula, so they are stated as code facts (true by construction), not as measured findings;
exp3 measures what the many frequencies buy.

Why it matters: the fast pairs resolve neighbouring tokens, the slow pairs tell far-apart
tokens apart without ever wrapping around; together they cover every scale in between.
"""

from __future__ import annotations

import math

import torch

from minimind_notes.lab.experiment import ExperimentContext, main
from minimind_notes.model import precompute_freqs_cis, preset
from minimind_notes.model.rope import rope_frequencies, yarn_scale

SHOWN_PAIRS = [0, 4, 8, 16]  # pairs whose cos(angle) we plot


def wavelengths(freqs: torch.Tensor) -> torch.Tensor:
    """Positions per full turn of each pair: 2*pi / freq, (hd/2,) in float64."""
    return 2 * math.pi / freqs.double()


@torch.no_grad()
def run(ctx: ExperimentContext) -> None:
    config = preset("minimind2-small", inference_rope_scaling=True)  # head_dim 64, theta 1e6, 32768 positions
    hd, theta, context = config.head_dim, config.rope_theta, config.max_position_embeddings
    assert config.rope_scaling is not None
    trained = config.rope_scaling["original_max_position_embeddings"]
    freqs = rope_frequencies(hd, theta)  # (hd/2,)
    waves = wavelengths(freqs)  # (hd/2,)
    ratios = waves[1:] / waves[:-1]  # (hd/2 - 1,)
    expected_ratio = theta ** (2 / hd)
    ratio_dev = float((ratios / expected_ratio - 1).abs().max())
    yarn = (yarn_scale(freqs, config.rope_scaling) / freqs).double()  # (hd/2,) YaRN's factor per pair
    turns_context = context / waves  # full turns each pair makes over the whole context

    ctx.log("MiniMind2: head_dim {hd} -> {n} rotating pairs, theta {t:.0e}, context {c} positions.",
            "MiniMind2:head_dim {hd} -> {n} 个旋转的维度对,theta {t:.0e},上下文 {c} 个位置。",
            hd=hd, n=hd // 2, t=theta, c=context)
    ctx.metric("frequencies", freqs.tolist())
    ctx.metric("wavelengths", waves.tolist())
    ctx.metric("consecutive_ratio", float(ratios.mean()))
    ctx.metric("ratio_max_relative_deviation", ratio_dev)
    ctx.metric("yarn_scale_per_pair", yarn.tolist())
    ctx.table({"en": "Frequency and wavelength of each dimension pair (MiniMind2)",
               "zh": "每个维度对的频率与波长(MiniMind2)"},
              ["pair", "freq (rad/position)", "wavelength (positions)", f"turns in {context}", "YaRN scale"],
              [[i, float(freqs[i]), float(waves[i]), float(turns_context[i]), float(yarn[i])]
               for i in range(hd // 2)])

    n_full_turn = int((waves < context).sum())
    n_short = int((waves <= trained).sum())
    slowed = (yarn - 1 / config.rope_scaling["factor"]).abs() < 1e-6  # pairs YaRN divides by 4
    ctx.metric("pairs_turning_within_context", n_full_turn)
    ctx.metric("pairs_turning_within_trained_length", n_short)
    ctx.code_fact(
        "The fastest pair (0) turns once every {w0:.4f} positions, i.e. 2*pi = {tp:.4f}: freq_0 = 1 "
        "radian per position (check: |wavelength - 2*pi| < 1e-4)",
        "最快的维度对(第 0 对)每 {w0:.4f} 个位置转一圈,即 2*pi = {tp:.4f}:freq_0 = 每个位置 1 弧度"
        "(检验:|波长 - 2*pi| < 1e-4)",
        abs(float(waves[0]) - 2 * math.pi) < 1e-4, w0=float(waves[0]), tp=2 * math.pi)
    ctx.code_fact(
        "The slowest pair ({last}) has a wavelength of {wl:,.0f} positions, {x:.0f}x the {c} context: "
        "it never completes a turn (only {turns:.4f} of one) (check: > 10 x context)",
        "最慢的维度对(第 {last} 对)波长为 {wl:,.0f} 个位置,是 {c} 上下文的 {x:.0f} 倍:"
        "在整个上下文中它只转了 {turns:.4f} 圈(检验:> 10 倍上下文)",
        float(waves[-1]) > 10 * context, last=hd // 2 - 1, wl=float(waves[-1]), c=context,
        x=float(waves[-1]) / context, turns=float(turns_context[-1]))
    ctx.code_fact(
        "Wavelengths form a geometric series: each pair's is {r:.4f}x the previous one "
        "(theta^(2/{hd}) = {e:.4f}; largest relative deviation {d:.1e}, check: < 1e-4)",
        "波长构成等比数列:每一对的波长都是前一对的 {r:.4f} 倍"
        "(theta^(2/{hd}) = {e:.4f};最大相对偏差 {d:.1e},检验:< 1e-4)",
        ratio_dev < 1e-4, r=float(ratios.mean()), e=expected_ratio, hd=hd, d=ratio_dev)
    ctx.code_fact(
        "{nf} of {n} pairs complete a full turn within {c} positions and {ns} within the {tr} trained "
        "positions; MiniMind2's YaRN divides exactly the other {nslow} (wavelength > {tr}) by "
        "{f}, and scales the fast ones by {lo:.3f}-{hi:.3f} (check: slowed pairs = long-wavelength pairs)",
        "{n} 个维度对中,{nf} 个在 {c} 个位置内转满一圈,{ns} 个在训练长度 {tr} 内转满一圈;"
        "MiniMind2 的 YaRN 恰好把其余 {nslow} 对(波长 > {tr})的频率除以 {f},"
        "快的那些只乘以 {lo:.3f}-{hi:.3f}(检验:被放慢的对 = 长波长的对)",
        bool(torch.equal(slowed, waves > trained)), nf=n_full_turn, n=hd // 2, c=context, ns=n_short,
        tr=trained, nslow=int(slowed.sum()), f=config.rope_scaling["factor"],
        lo=float(yarn[~slowed].min()), hi=float(yarn[~slowed].max()))

    plot(ctx, waves, hd, theta, trained, context)


def plot(ctx: ExperimentContext, waves: torch.Tensor, hd: int, theta: float, trained: int,
         context: int) -> None:
    plt = ctx.plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    axes[0].semilogy(range(len(waves)), waves.numpy(), "o-", ms=4)
    for level, label, color in [(2 * math.pi, "2*pi", "grey"), (trained, f"{trained} (YaRN's trained length)",
                                                                  "tab:orange"),
                                (context, f"{context} (context)", "tab:red")]:
        axes[0].axhline(level, ls="--", lw=1, color=color, label=label)
    axes[0].set_xlabel("dimension pair i")
    axes[0].set_ylabel("wavelength 2*pi/freq_i (positions, log scale)")
    axes[0].set_title(f"RoPE wavelengths, head_dim {hd}, theta {theta:.0e}")
    axes[0].legend(fontsize=8)
    length = 256
    cos, _ = precompute_freqs_cis(hd, length, theta)  # (L, hd): the real rotation table
    for i in SHOWN_PAIRS:
        axes[1].plot(range(length), cos[:, i].numpy(), lw=1.2,
                     label=f"pair {i} (wavelength {float(waves[i]):.0f})")
    axes[1].set_xlabel("position")
    axes[1].set_ylabel("cos(position * freq_i)")
    axes[1].set_title("Fast pairs resolve neighbours, slow pairs barely move")
    axes[1].legend(fontsize=8, loc="lower left")
    ctx.savefig(fig, "rope_wavelengths.png")


if __name__ == "__main__":
    main(__file__)
