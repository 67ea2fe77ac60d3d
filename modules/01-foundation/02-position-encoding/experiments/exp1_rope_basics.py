"""Position encoding exp1: what RoPE adds to attention.

(a) Attention by itself has no idea of order. The real MiniMind `Attention` layer, given
identity rotation tables (cos = 1, sin = 0) and no causal mask, is permutation-equivariant:
shuffle the input tokens and the outputs come back shuffled the same way, unchanged. With
RoPE tables the same shuffle changes the outputs, because each token is now rotated by the
angle of its position. (A causal mask alone also breaks the symmetry: it is measured too.)

(b) Why RoPE gives *relative* position: a query rotated to position m dotted with a key
rotated to position n depends only on m - n. For one fixed pair of vectors we compute the
score for every (m, n) and measure how much it varies along each diagonal m - n = const.
"""

from __future__ import annotations

import torch

from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.model import Attention, MiniMindConfig, apply_rotary_pos_emb, precompute_freqs_cis

HIDDEN, HEADS, KV_HEADS, TOKENS = 64, 4, 2, 16  # a small attention layer: head_dim 16
HEAD_DIM, THETA = 64, 1e6  # MiniMind2's head size and RoPE base, for part (b)


def identity_tables(t: int, hd: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos = 1, sin = 0: RoPE that rotates nothing, i.e. attention without positions."""
    return torch.ones(t, hd), torch.zeros(t, hd)


def shuffle_gap(attn: Attention, x: torch.Tensor, perm: torch.Tensor, tables, mask) -> float:
    """max |attn(x)[perm] - attn(x[perm])|: 0 means attention is blind to token order."""
    out = attn(x, tables, attn_mask=mask)[0]  # (1, T, C)
    out_shuffled = attn(x[:, perm], tables, attn_mask=mask)[0]  # (1, T, C)
    return float((out[:, perm] - out_shuffled).abs().max())


def score_matrix(q: torch.Tensor, k: torch.Tensor, length: int) -> torch.Tensor:
    """score[m, n] = RoPE(q, m) . RoPE(k, n) for one fixed q and k of shape (hd,)."""
    hd = q.shape[0]
    cos, sin = precompute_freqs_cis(hd, length, THETA)  # (L, hd) each
    qs, ks = q.expand(1, length, 1, hd), k.expand(1, length, 1, hd)  # (1, L, 1, hd): same vector everywhere
    q_rot, k_rot = apply_rotary_pos_emb(qs, ks, cos, sin)
    return q_rot[0, :, 0] @ k_rot[0, :, 0].T  # (L, L)


def diagonals(scores: torch.Tensor) -> dict[int, torch.Tensor]:
    """{offset m - n: the scores on that diagonal}."""
    length = scores.shape[0]
    return {d: torch.diagonal(scores, offset=-d) for d in range(-(length - 1), length)}


@torch.no_grad()
def part_a() -> dict[str, float]:
    config = MiniMindConfig(hidden_size=HIDDEN, num_attention_heads=HEADS, num_key_value_heads=KV_HEADS)
    attn = Attention(config).eval()
    x = torch.randn(1, TOKENS, HIDDEN)  # (1, T, C) random "token" vectors
    perm = torch.randperm(TOKENS)
    everything = torch.ones(1, 1, TOKENS, TOKENS, dtype=torch.bool)  # no causal mask: all may attend
    causal = everything.tril()
    none = identity_tables(TOKENS, config.head_dim)
    rope = precompute_freqs_cis(config.head_dim, TOKENS, config.rope_theta)
    return {
        "no_position": shuffle_gap(attn, x, perm, none, everything),
        "rope": shuffle_gap(attn, x, perm, rope, everything),
        "causal_only": shuffle_gap(attn, x, perm, none, causal),
        "out_scale": float(attn(x, none, attn_mask=everything)[0].abs().mean()),
    }


@torch.no_grad()
def run(ctx: ExperimentContext) -> None:
    ctx.log("Part (a): shuffle {t} random tokens through MiniMind's Attention (hidden {h}, {nh} heads).",
            "(a) 部分:把 {t} 个随机 token 打乱顺序后送入 MiniMind 的 Attention(hidden {h},{nh} 个头)。",
            t=TOKENS, h=HIDDEN, nh=HEADS)
    gaps = part_a()
    for name, value in gaps.items():
        ctx.metric(f"shuffle_gap_{name}", value)

    length = 64 if ctx.quick else 128
    q, k = torch.randn(HEAD_DIM), torch.randn(HEAD_DIM)
    q, k = q / q.norm(), k / k.norm()  # unit vectors: scores lie in [-1, 1]
    scores = score_matrix(q, k, length)  # (L, L)
    diags = diagonals(scores)
    spread = {d: float(v.max() - v.min()) for d, v in diags.items()}
    per_offset = {d: float(v.mean()) for d, v in diags.items()}
    max_spread = max(spread.values())
    offset_range = max(per_offset.values()) - min(per_offset.values())
    ctx.metric("positions", length)
    ctx.metric("max_spread_within_offset", max_spread)
    ctx.metric("score_range_across_offsets", offset_range)
    ctx.metric("score_by_offset", [per_offset[d] for d in sorted(per_offset)])
    ctx.metric("score_00", float(scores[0, 0]))
    ctx.metric("score_11", float(scores[1, 1]))
    ctx.metric("q_dot_k", float(q @ k))

    shown = [0, 1, 2, 5, 10, -1, -5, length // 2, length - 1]
    ctx.table({"en": "Shuffling the input tokens: max |out[perm] - out(shuffled input)|",
               "zh": "打乱输入 token:max |out[perm] - out(打乱后的输入)|"},
              ["setting", "max difference"],
              [["no position (cos=1, sin=0), no mask", gaps["no_position"]],
               ["RoPE, no mask", gaps["rope"]],
               ["no position, causal mask", gaps["causal_only"]],
               ["(mean |output|, for scale)", gaps["out_scale"]]])
    ctx.table({"en": f"RoPE score q_m . k_n grouped by offset m - n ({length} positions, unit q and k)",
               "zh": f"按相对位置 m - n 分组的 RoPE 分数 q_m . k_n({length} 个位置,q、k 为单位向量)"},
              ["offset m-n", "pairs (m, n)", "mean score", "max - min on this diagonal"],
              [[d, len(diags[d]), per_offset[d], spread[d]] for d in shown])

    ctx.log("Part (b): fixed unit q and k (head_dim {hd}, theta 1e6), rotated to every position 0..{l}.",
            "(b) 部分:固定的单位向量 q 和 k(head_dim {hd},theta 1e6),旋转到 0..{l} 的每个位置。",
            hd=HEAD_DIM, l=length - 1)
    ctx.code_fact(
        "Without position information attention is permutation-equivariant (a property of the formula: nothing in "
        "it depends on order): shuffling the input only shuffles the output, max difference {g:.2e}, float rounding",
        "没有位置信息时,注意力对排列是等变的(公式的性质:其中没有任何量依赖顺序):打乱输入只会同样地打乱输出,"
        "最大差异 {g:.2e},即浮点舍入",
        gaps["no_position"] < 1e-5, g=gaps["no_position"])
    ctx.finding(
        "With RoPE the same shuffle changes the output: max difference {g:.3f}, against a mean |output| of {s:.3f}",
        "加上 RoPE 后,同样的打乱会改变输出:最大差异 {g:.3f},而输出的平均绝对值为 {s:.3f}",
        Bar({"en": "max difference / mean |output|", "zh": "最大差异 / 输出的平均绝对值"},
            gaps["rope"] / gaps["out_scale"], ">", 0.1), g=gaps["rope"], s=gaps["out_scale"])
    ctx.finding(
        "A causal mask alone also breaks the symmetry (each token sees a different prefix): max difference {g:.3f}",
        "仅有因果掩码也会打破对称性(每个 token 看到的前缀不同):最大差异 {g:.3f}",
        Bar({"en": "max difference / mean |output|", "zh": "最大差异 / 输出的平均绝对值"},
            gaps["causal_only"] / gaps["out_scale"], ">", 0.1), g=gaps["causal_only"])
    ctx.code_fact(
        "The RoPE score depends only on m - n (a property of rotations: R(m)q . R(n)k = q . R(n - m)k): along each "
        "diagonal of the {l}x{l} score matrix the values agree to {s:.1e} (e.g. score(0,0) = {s00:.6f}, "
        "score(1,1) = {s11:.6f}, q.k = {qk:.6f}), while across offsets they range over {r:.3f}",
        "RoPE 分数只取决于 m - n(旋转的性质:R(m)q . R(n)k = q . R(n - m)k):{l}x{l} 分数矩阵每条对角线上的值"
        "相差不超过 {s:.1e}(例如 score(0,0) = {s00:.6f},score(1,1) = {s11:.6f},q.k = {qk:.6f}),"
        "而不同相对位置之间的分数变化幅度为 {r:.3f}",
        max_spread < 1e-5 and offset_range > 1000 * max_spread,
        l=length, s=max_spread, r=offset_range, s00=float(scores[0, 0]), s11=float(scores[1, 1]),
        qk=float(q @ k))

    plt = ctx.plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    image = axes[0].imshow(scores.numpy(), cmap="RdBu_r", origin="upper")
    axes[0].set_title("score(m, n) = RoPE(q, m) . RoPE(k, n)\nconstant along each diagonal")
    axes[0].set_xlabel("key position n")
    axes[0].set_ylabel("query position m")
    fig.colorbar(image, ax=axes[0], fraction=0.046)
    offsets = sorted(per_offset)
    axes[1].plot(offsets, [per_offset[d] for d in offsets], "-", lw=1.2)
    axes[1].set_title("score vs relative offset m - n")
    axes[1].set_xlabel("m - n")
    axes[1].set_ylabel("score (identical for every (m, n) with this offset)")
    axes[1].axvline(0, color="grey", lw=0.6)
    ctx.savefig(fig, "rope_relative_scores.png")


if __name__ == "__main__":
    main(__file__)
