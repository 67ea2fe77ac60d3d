"""Position encoding exp3: why RoPE needs many frequencies, not one.

Think of RoPE's rotation angles as the position's "address": pair i contributes the point
(cos(p * freq_i), sin(p * freq_i)) on a circle. We build these addresses for positions
0..N-1 from the real `rope_frequencies` (MiniMind2: head_dim 64, theta 1e6) and compute the
distance between every two positions' addresses (all N*(N-1)/2 pairs):

- one fast frequency wraps around: positions far apart land on (almost) the same angle;
- one slow frequency never wraps, but barely moves: every position looks like its neighbours;
- all 32 frequencies together give every position a distinct address.

Each address is scaled to unit length, so one pair and 32 pairs are compared on the same scale.
"""

from __future__ import annotations

import torch

from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.model.rope import rope_frequencies

HEAD_DIM, THETA = 64, 1e6  # MiniMind2
TOL = 0.01  # two positions whose unit-length addresses are closer than this count as "near-identical"


def encode(positions: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """Unit-length address of each position: (N,) x (k,) -> (N, 2k) = [cos, sin] / sqrt(k)."""
    angles = torch.outer(positions.double(), freqs.double())  # (N, k), float64: exact angles
    return torch.cat([angles.cos(), angles.sin()], dim=-1) / freqs.numel() ** 0.5


def pair_distances(enc: torch.Tensor) -> torch.Tensor:
    """Distance between the addresses of every two positions, (N, N); inf on the diagonal."""
    dist = enc @ enc.T  # (N, N) dot products; rows have unit length, so |a - b|^2 = 2 - 2 a.b
    dist.mul_(-2).add_(2).clamp_min_(0).sqrt_()  # in place: N*N float64 is large
    return dist.fill_diagonal_(float("inf"))


def summarize(name: str, dist: torch.Tensor) -> dict:
    """Closest pair of distinct positions, how many pairs are near-identical, the farthest pair."""
    n = dist.shape[0]
    flat = int(dist.argmin())
    p, q = sorted((flat // n, flat % n))
    nearest = dist.min(dim=1).values  # (N,) distance from each position to its closest other one
    far = dist.fill_diagonal_(0).max()
    return {"name": name, "min": float(nearest.min()), "closest": (p, q),
            "near": int((dist < TOL).sum() - n) // 2,  # minus the diagonal; unordered pairs appear twice
            "max": float(far), "from_zero": dist[0].clone(), "nearest": nearest}


@torch.no_grad()
def run(ctx: ExperimentContext) -> None:
    n = 2048 if ctx.quick else 4096
    freqs = rope_frequencies(HEAD_DIM, THETA)  # (32,) from 1 down to ~1.5e-6 rad/position
    last = len(freqs) - 1
    positions = torch.arange(n)
    settings = {"pair 0 only (fastest)": freqs[:1], f"pair {last} only (slowest)": freqs[last:],
                "pairs 0-1": freqs[:2], "pairs 0-3": freqs[:4], f"all {len(freqs)} pairs (RoPE)": freqs}
    ctx.log("Addresses of positions 0..{m} under one or more RoPE frequencies; {pairs:,} pairs each.",
            "位置 0..{m} 在一个或多个 RoPE 频率下的“地址”;每种设置比较 {pairs:,} 对位置。",
            m=n - 1, pairs=n * (n - 1) // 2)
    stats = [summarize(name, pair_distances(encode(positions, f))) for name, f in settings.items()]
    fast, slow, _, _, full = stats
    total = n * (n - 1) // 2
    for s in stats:
        key = s["name"].split(" (")[0].replace(" ", "_")
        ctx.metric(f"{key}_min_distance", s["min"])
        ctx.metric(f"{key}_near_identical_pairs", s["near"])
    ctx.table({"en": f"Distances between the addresses of positions 0..{n - 1} (unit length; "
                     f"near-identical: < {TOL})",
               "zh": f"位置 0..{n - 1} 的“地址”之间的距离(单位长度;近乎相同:< {TOL})"},
              ["frequencies used", "min distance", "closest positions", "near-identical pairs",
               "max distance"],
              [[s["name"], s["min"], f"{s['closest'][0]} & {s['closest'][1]}", s["near"], s["max"]]
               for s in stats])

    gap = fast["closest"][1] - fast["closest"][0]
    ctx.metric("pair_0_only_closest_gap", gap)
    ctx.metric(f"pair_{last}_only_max_distance", slow["max"])
    ctx.code_fact(
        "One fast frequency (pair 0, 1 rad/position) wraps around: {near:,} position pairs are "
        "near-identical; the closest, positions {p} and {q} ({gap} apart), differ by only {d:.1e}",
        "只用一个快频率(第 0 对,每个位置 1 弧度)会绕圈重叠:有 {near:,} 对位置近乎相同;"
        "最接近的是位置 {p} 和 {q}(相距 {gap}),距离只有 {d:.1e}",
        Bar({"en": "near-identical pairs", "zh": "近乎相同的位置对"}, fast["near"], ">", 0),
        near=fast["near"], p=fast["closest"][0], q=fast["closest"][1], gap=gap, d=fast["min"])
    ctx.code_fact(
        "One slow frequency (pair {last}) never wraps but barely moves: {near:,} of {total:,} pairs are "
        "near-identical, even the farthest positions differ by only {mx:.4f}",
        "只用一个慢频率(第 {last} 对)不会绕圈,但几乎不动:{total:,} 对中有 {near:,} 对近乎相同,"
        "相距最远的位置之间距离也只有 {mx:.4f}",
        Bar({"en": "largest distance (near-identical below)", "zh": "最大距离(低于此值即近乎相同)"},
            slow["max"], "<", TOL),
        last=last, near=slow["near"], total=total, mx=slow["max"])
    ctx.code_fact(
        "With all {k} pairs every position has its own address: {near} near-identical pairs among {total:,}; "
        "the closest two (positions {p} and {q}) are still {d:.3f} apart, {x:.0f}x the tolerance",
        "用全部 {k} 对时,每个位置都有自己的地址:{total:,} 对中近乎相同的为 {near};"
        "最接近的两个位置({p} 和 {q})距离仍有 {d:.3f},是阈值的 {x:.0f} 倍",
        [Bar({"en": "near-identical pairs", "zh": "近乎相同的位置对"}, full["near"], "<=", 0),
         Bar({"en": "smallest distance", "zh": "最小距离"}, full["min"], ">", TOL)],
        k=len(freqs), near=full["near"], total=total, p=full["closest"][0], q=full["closest"][1], d=full["min"],
        x=full["min"] / TOL)
    ctx.code_fact(
        "With all pairs the closest two addresses belong to neighbouring positions ({p} and {q}): "
        "no far-away position comes closer than a neighbour does, whereas with pair 0 alone the closest "
        "two were {gap} apart",
        "使用全部维度对时,最接近的两个地址属于相邻位置({p} 和 {q}):没有哪个远处的位置比相邻位置更接近;"
        "而只用第 0 对时,最接近的两个位置相距 {gap}",
        Bar({"en": "positions between the closest two", "zh": "最接近的两个位置的间距"},
            full["closest"][1] - full["closest"][0], "<=", 1),
        p=full["closest"][0], q=full["closest"][1], gap=gap)

    plot(ctx, stats, n)


def plot(ctx: ExperimentContext, stats: list[dict], n: int) -> None:
    plt = ctx.plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    shown = min(n, 1000)  # includes position 710, where pair 0 alone comes back to position 0's angle
    for s, color in zip(stats, ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"], strict=True):
        if "only" in s["name"] or s["name"].startswith("all"):  # the single pairs and full RoPE
            axes[0].semilogy(range(1, shown), s["from_zero"][1:shown].numpy(), lw=0.8, color=color,
                             label=s["name"])
        axes[1].semilogy(range(n), s["nearest"].numpy(), lw=0.8, color=color, label=s["name"])
    axes[0].set_title("Distance from position 0's address")
    axes[0].set_xlabel("position")
    axes[0].set_ylabel("distance (log scale; low = looks like position 0)")
    axes[0].axhline(TOL, color="black", ls="--", lw=1, label=f"near-identical ({TOL})")
    axes[1].axhline(TOL, color="black", ls="--", lw=1, label=f"near-identical ({TOL})")
    axes[1].set_title("Distance to the closest other position")
    axes[1].set_xlabel("position")
    axes[1].set_ylabel("distance (log scale)")
    for ax in axes:
        ax.legend(fontsize=7)
    ctx.savefig(fig, "rope_address_distances.png")


if __name__ == "__main__":
    main(__file__)
