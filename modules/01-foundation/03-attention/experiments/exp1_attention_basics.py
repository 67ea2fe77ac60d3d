"""Attention exp1: softmax(QK^T / sqrt(d)) V, one step at a time.

The six words of "the cat sat on the mat" get seeded random embeddings (both "the" share
one, as a real embedding table would give them). Three random matrices project them to
queries, keys and values of size d = 4. We then compute the scores, the softmax weights and
the output by hand, print every intermediate, and check that the hand computation gives the
same numbers as MiniMind's `explicit_attention` and PyTorch's fused
`F.scaled_dot_product_attention`, with and without the causal mask.

The projections are untrained, so the pattern in the heatmap means nothing linguistically:
the point is the mechanics (shapes, rows that sum to 1, the zeros the causal mask makes).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.model import explicit_attention
from minimind_notes.model.attention import causal_mask

WORDS = ["the", "cat", "sat", "on", "the", "mat"]
D_MODEL, D_HEAD = 8, 4  # embedding width and head size: small enough to print


def embed(words: list[str], d_model: int) -> torch.Tensor:
    """(T, d_model): one seeded random vector per distinct word; repeated words share it."""
    vocab = sorted(set(words))
    table = torch.randn(len(vocab), d_model)
    return table[torch.tensor([vocab.index(w) for w in words])]


def attention_by_hand(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool):
    """The formula written out for one head: q, k, v (T, d) -> scores, weights (T, T), out (T, d)."""
    d = q.shape[-1]
    scores = q @ k.T / math.sqrt(d)  # (T, T): query i against key j
    if causal:  # j > i is the future: -inf before the softmax makes its weight exactly 0
        future = torch.ones_like(scores, dtype=torch.bool).triu(1)
        scores = scores.masked_fill(future, float("-inf"))
    exp = (scores - scores.max(-1, keepdim=True).values).exp()  # subtract the row max: no overflow
    weights = exp / exp.sum(-1, keepdim=True)  # (T, T), each row sums to 1
    return scores, weights, weights @ v  # out (T, d): weighted average of the value rows


def library_versions(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool):
    """The same attention from MiniMind's explicit path and from PyTorch's fused kernel."""
    q4, k4, v4 = (x[None, None] for x in (q, k, v))  # (1, 1, T, d): batch 1, one head
    t = q.shape[0]
    mask = causal_mask(t, t) if causal else None  # (T, T) bool, True = may attend
    out_explicit, weights_explicit = explicit_attention(q4, k4, v4, mask)
    out_sdpa = F.scaled_dot_product_attention(q4, k4, v4, is_causal=causal)
    return out_explicit[0, 0], weights_explicit[0, 0], out_sdpa[0, 0]


def matrix_rows(labels: list[str], m: torch.Tensor, row_sums: bool = False) -> list[list]:
    """Table rows: the token's label, then its row of the matrix (and the row's sum)."""
    rows = [[label, *[float(x) for x in row]] for label, row in zip(labels, m, strict=True)]
    return [[*row, float(s)] for row, s in zip(rows, m.sum(-1), strict=True)] if row_sums else rows


@torch.no_grad()
def run(ctx: ExperimentContext) -> None:
    labels = [f"{i}:{w}" for i, w in enumerate(WORDS)]
    x = embed(WORDS, D_MODEL)  # (T, d_model) = (6, 8)
    w_q, w_k, w_v = (torch.randn(D_MODEL, D_HEAD) / math.sqrt(D_MODEL) for _ in range(3))
    q, k, v = x @ w_q, x @ w_k, x @ w_v  # each (T, d) = (6, 4)
    ctx.log("Sentence {s!r}: T = {t} tokens, embeddings {x}, Q = x W_Q, K = x W_K, V = x W_V each {q}.",
            "句子 {s!r}:T = {t} 个 token,嵌入 {x},Q = x W_Q、K = x W_K、V = x W_V 形状均为 {q}。",
            s=" ".join(WORDS), t=len(WORDS), x=str(tuple(x.shape)), q=str(tuple(q.shape)))

    results = {}
    for causal in (False, True):
        scores, weights, out = attention_by_hand(q, k, v, causal)
        out_explicit, weights_explicit, out_sdpa = library_versions(q, k, v, causal)
        results[causal] = dict(
            scores=scores, weights=weights, out=out,
            diff_explicit=max(float((out - out_explicit).abs().max()),
                              float((weights - weights_explicit).abs().max())),
            diff_sdpa=float((out - out_sdpa).abs().max()),
            row_sum_error=float((weights.sum(-1) - 1).abs().max()),
        )
    full, causal = results[False], results[True]
    upper = causal["weights"].triu(1)  # the cells above the diagonal: the future
    upper_max = float(upper.abs().max())
    first_row_self = float(causal["weights"][0, 0])
    the_gap_full = float((full["out"][0] - full["out"][4]).abs().max())  # token 0 and 4 are both "the"
    the_gap_causal = float((causal["out"][0] - causal["out"][4]).abs().max())

    for name, r in (("full", full), ("causal", causal)):
        ctx.metric(f"max_diff_vs_explicit_attention_{name}", r["diff_explicit"])
        ctx.metric(f"max_diff_vs_sdpa_{name}", r["diff_sdpa"])
        ctx.metric(f"max_row_sum_error_{name}", r["row_sum_error"])
        ctx.metric(f"weights_{name}", r["weights"].tolist())
    ctx.metric("scores_full", full["scores"].tolist())
    ctx.metric("causal_upper_triangle_max", upper_max)
    ctx.metric("the_output_gap_full", the_gap_full)
    ctx.metric("the_output_gap_causal", the_gap_causal)

    ctx.table({"en": "Step 1: scores = Q K^T / sqrt(4) (row = query, column = key)",
               "zh": "第 1 步:scores = Q K^T / sqrt(4)(行 = 查询,列 = 键)"},
              ["query \\ key", *labels], matrix_rows(labels, full["scores"]))
    ctx.table({"en": "Step 2: weights = softmax(scores) per row, no mask",
               "zh": "第 2 步:对每行做 softmax 得到权重(无掩码)"},
              ["query \\ key", *labels, "row sum"],
              matrix_rows(labels, full["weights"], row_sums=True))
    ctx.table({"en": "Step 2 with the causal mask: the future gets weight 0",
               "zh": "加因果掩码后的第 2 步:未来位置的权重为 0"},
              ["query \\ key", *labels, "row sum"],
              matrix_rows(labels, causal["weights"], row_sums=True))
    ctx.table({"en": "Step 3: output = weights V (no mask), one row per token",
               "zh": "第 3 步:output = weights V(无掩码),每个 token 一行"},
              ["token", *[f"out[{j}]" for j in range(D_HEAD)]], matrix_rows(labels, full["out"]))

    ctx.code_fact(
        "The hand computation matches MiniMind's explicit_attention (max diff {e1:.1e} no mask, "
        "{e2:.1e} causal) and PyTorch's scaled_dot_product_attention ({s1:.1e}, {s2:.1e}): the same formula, "
        "float rounding apart (< 1e-6)",
        "手算结果与 MiniMind 的 explicit_attention 一致(最大差异:无掩码 {e1:.1e},因果 {e2:.1e}),"
        "也与 PyTorch 的 scaled_dot_product_attention 一致({s1:.1e},{s2:.1e}):同一个公式,只差浮点舍入(< 1e-6)",
        max(full["diff_explicit"], causal["diff_explicit"], full["diff_sdpa"], causal["diff_sdpa"]) < 1e-6,
        e1=full["diff_explicit"], e2=causal["diff_explicit"], s1=full["diff_sdpa"], s2=causal["diff_sdpa"])
    ctx.code_fact(
        "Every row of weights sums to 1 (softmax divides by the row's sum): max |row sum - 1| = {a:.1e} without "
        "and {b:.1e} with the mask",
        "每一行权重之和都为 1(softmax 除以该行之和):max |行和 - 1| 无掩码时为 {a:.1e},有掩码时为 {b:.1e}",
        max(full["row_sum_error"], causal["row_sum_error"]) < 1e-6,
        a=full["row_sum_error"], b=causal["row_sum_error"])
    ctx.code_fact(
        "With the causal mask every weight above the diagonal is exactly {u} and the first token, "
        "which can only see itself, puts weight {w0} on itself (exp(-inf) = 0: exactly 0 and exactly 1)",
        "加因果掩码后,对角线以上的权重全部恰好为 {u};第一个 token 只能看到自己,给自己的权重为 {w0}"
        "(exp(-inf) = 0:恰好为 0 和恰好为 1)",
        upper_max == 0.0 and first_row_self == 1.0, u=upper_max, w0=first_row_self)
    ctx.code_fact(
        "Attention alone ignores word order: without the mask the two \"the\" tokens (positions 0 and 4) "
        "get identical outputs (max diff {g0:.1e}); with the causal mask they see different prefixes and "
        "differ by {g1:.3f}",
        "注意力本身不看词序:无掩码时两个 \"the\"(位置 0 和 4)的输出完全相同(最大差异 {g0:.1e});"
        "加因果掩码后它们看到的前缀不同,输出相差 {g1:.3f}",
        [Bar({"en": "gap without the mask", "zh": "无掩码时的差异"}, the_gap_full, "<", 1e-6),
         Bar({"en": "gap with the mask", "zh": "有掩码时的差异"}, the_gap_causal, ">", 1e-3)],
        g0=the_gap_full, g1=the_gap_causal)

    plot_weights(ctx, labels, full["weights"], causal["weights"])


def plot_weights(ctx: ExperimentContext, labels: list[str], full: torch.Tensor, causal: torch.Tensor) -> None:
    plt = ctx.plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    for ax, weights, title in ((axes[0], full, "no mask"), (axes[1], causal, "causal mask")):
        image = ax.imshow(weights.numpy(), cmap="Blues", vmin=0, vmax=1)
        for i in range(len(labels)):
            for j in range(len(labels)):
                value = float(weights[i, j])
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if value > 0.6 else "black")
        ax.set_xticks(range(len(labels)), labels, rotation=45)
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("key (the token being read)")
        ax.set_ylabel("query (the token reading)")
        ax.set_title(f"softmax(QK^T / sqrt(d)), {title}")
        fig.colorbar(image, ax=ax, fraction=0.046)
    ctx.savefig(fig, "attention_weights.png")


if __name__ == "__main__":
    main(__file__)
