"""Transformer block exp1: assemble a Pre-LN block by hand and match MiniMind's exactly.

We build MiniMind2-small's first block (hidden 512, 8 query heads, 2 KV heads, head_dim 64,
SwiGLU 512 -> 1408 -> 512) as `minimind_notes.model.block.MiniMindBlock`, then redo its forward
pass step by step from the foundation pieces, with plain tensor operations on the block's own
weights: RMSNorm written out, the q/k/v projections, RoPE, GQA's repeat of the KV heads,
softmax(QK^T / sqrt(d)) V with the causal mask, o_proj, the residual add, the second RMSNorm,
SwiGLU and the second residual add. Every shape is printed; the hand result must equal the
module's output. Then the parameters of one block and of the whole model are counted.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.model import MiniMindForCausalLM, preset
from minimind_notes.model.attention import causal_mask, repeat_kv
from minimind_notes.model.block import MiniMindBlock
from minimind_notes.model.rope import apply_rotary_pos_emb, precompute_freqs_cis

B, T = 2, 16


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


@torch.no_grad()
def assemble(block: MiniMindBlock, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, eps: float):
    """The block's forward written out; returns the output and [(step, shape)]."""
    attn, mlp = block.self_attn, block.mlp
    nh, nkv, hd = attn.n_heads, attn.n_kv_heads, attn.head_dim
    steps = [("x: the residual stream", x.shape)]
    h = rms_norm(x, block.input_layernorm.weight, eps)  # (B, T, C)
    steps.append(("RMSNorm(x)", h.shape))
    q = (h @ attn.q_proj.weight.T).view(B, T, nh, hd)  # (B, T, nh, hd)
    k = (h @ attn.k_proj.weight.T).view(B, T, nkv, hd)  # (B, T, n_kv, hd): GQA, fewer KV heads
    v = (h @ attn.v_proj.weight.T).view(B, T, nkv, hd)
    steps += [("q = q_proj(h), split into heads", q.shape), ("k = k_proj(h)", k.shape), ("v = v_proj(h)", v.shape)]
    q, k = apply_rotary_pos_emb(q, k, cos, sin)  # rotate each pair of dims by position x frequency
    steps.append(("RoPE(q), RoPE(k)", q.shape))
    k, v = repeat_kv(k, nh // nkv), repeat_kv(v, nh // nkv)  # (B, T, nh, hd): each KV head serves 4 queries
    steps.append((f"repeat_kv x{nh // nkv}", k.shape))
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hd)
    scores = q @ k.transpose(-2, -1) / math.sqrt(hd)  # (B, nh, T, T)
    scores = scores.masked_fill(~causal_mask(T, T), float("-inf"))
    steps.append(("scores = q k^T / sqrt(hd), causal mask", scores.shape))
    y = scores.softmax(-1) @ v  # (B, nh, T, hd)
    steps.append(("softmax(scores) v", y.shape))
    y = y.transpose(1, 2).reshape(B, T, nh * hd) @ attn.o_proj.weight.T  # (B, T, C)
    steps.append(("merge heads, o_proj", y.shape))
    x = x + y
    steps.append(("x + attention (residual)", x.shape))
    h = rms_norm(x, block.post_attention_layernorm.weight, eps)
    gate, up = h @ mlp.gate_proj.weight.T, h @ mlp.up_proj.weight.T  # (B, T, 1408)
    steps.append(("gate_proj(h), up_proj(h)", gate.shape))
    ffn = (F.silu(gate) * up) @ mlp.down_proj.weight.T  # (B, T, C)
    steps.append(("down_proj(silu(gate) * up)", ffn.shape))
    out = x + ffn
    steps.append(("x + FFN (residual): block output", out.shape))
    return out, steps


def run(ctx: ExperimentContext) -> None:
    config = preset("minimind2-small")
    torch.manual_seed(ctx.seed)
    block = MiniMindBlock(0, config).eval()
    for p in block.parameters():  # the model's init (normal, std 0.02), norms at 1 + noise so they matter
        torch.nn.init.normal_(p, mean=1.0 if p.dim() == 1 else 0.0, std=0.1 if p.dim() == 1 else 0.02)
    x = torch.randn(B, T, config.hidden_size)
    cos, sin = precompute_freqs_cis(config.head_dim, T, config.rope_theta)
    ours, steps = assemble(block, x, cos, sin, config.rms_norm_eps)
    with torch.no_grad():
        theirs = block(x, (cos, sin))[0]
    diff = float((ours - theirs).abs().max())
    scale = float(theirs.abs().max())
    ctx.metric("max_abs_diff", diff)
    ctx.table({"en": "MiniMind2-small block 0, by hand: shape after each step",
               "zh": "手工搭建 MiniMind2-small 的第 0 块:每一步之后的形状"},
              ["step", "shape"], [[name, str(tuple(shape))] for name, shape in steps])

    count = lambda m: sum(p.numel() for p in m.parameters())
    attn, ffn = count(block.self_attn), count(block.mlp)
    norms = count(block.input_layernorm) + count(block.post_attention_layernorm)
    c, i, kv = config.hidden_size, config.intermediate_size, config.num_key_value_heads * config.head_dim
    with torch.device("meta"):
        model = MiniMindForCausalLM(config)
    total = model.num_parameters()
    embed = model.model.embed_tokens.weight.numel()
    ctx.metric("block_params", {"attention": attn, "ffn": ffn, "norms": norms})
    ctx.metric("model_params", total)
    ctx.table({"en": "Parameters of one block and of the whole model", "zh": "一个块和整个模型的参数量"},
              ["part", "formula", "parameters"],
              [["attention", f"2 x {c}x{c} + 2 x {kv}x{c}", attn], ["SwiGLU FFN", f"3 x {c}x{i}", ffn],
               ["2 RMSNorms", f"2 x {c}", norms], ["one block", "", attn + ffn + norms],
               [f"{config.num_hidden_layers} blocks", "", config.num_hidden_layers * (attn + ffn + norms)],
               ["embedding = lm_head (tied)", f"{config.vocab_size} x {c}", embed], ["final RMSNorm", f"{c}", c],
               ["model", "", total]])

    ctx.code_fact(
        "The hand-assembled block equals MiniMindBlock: largest difference {d:.1e} on outputs up to {s:.1f}",
        "手工搭建的块与 MiniMindBlock 完全一致:输出最大约 {s:.1f},最大差异 {d:.1e}",
        Bar({"en": "largest |hand - MiniMindBlock|", "zh": "手工结果与 MiniMindBlock 的最大差异"}, diff, "<", 1e-5),
        d=diff, s=scale)
    ctx.code_fact(
        "Every step keeps the stream's shape (B, T, {c}) at its ends; inside, attention works per head "
        "(B, {nh}, T, {hd}) with only {nkv} KV heads before repeat_kv, and the FFN widens to {i} (the output "
        "shape equals the input's by construction)",
        "每一步的首尾都保持残差流的形状 (B, T, {c});内部注意力按头计算 (B, {nh}, T, {hd}),repeat_kv 之前只有 "
        "{nkv} 个 KV 头,FFN 扩展到 {i}(输出形状按构造等于输入形状)",
        tuple(ours.shape) == tuple(x.shape), c=c, nh=config.num_attention_heads, hd=config.head_dim,
        nkv=config.num_key_value_heads, i=i)
    ctx.code_fact(
        "One block holds {b:,} parameters: attention {a:,} ({ap:.1%}), FFN {f:,} ({fp:.1%}), norms {n:,}; "
        "{L} blocks + the tied embedding {e:,} + the final norm = {t:,}, the model's own count (the formulas "
        "in the table add up to MiniMindForCausalLM's parameter count)",
        "一个块有 {b:,} 个参数:注意力 {a:,}({ap:.1%}),FFN {f:,}({fp:.1%}),归一化 {n:,};{L} 个块 + 共享的词嵌入 "
        "{e:,} + 最后的归一化 = {t:,},与模型自己的统计一致(表中公式加总等于 MiniMindForCausalLM 的参数量)",
        config.num_hidden_layers * (attn + ffn + norms) + embed + c == total,
        b=attn + ffn + norms, a=attn, ap=attn / (attn + ffn + norms), f=ffn, fp=ffn / (attn + ffn + norms),
        n=norms, L=config.num_hidden_layers, e=embed, t=total)
    plot(ctx, config.num_hidden_layers, attn, ffn, norms, embed, c)


def plot(ctx: ExperimentContext, layers: int, attn: int, ffn: int, norms: int, embed: int, final: int) -> None:
    plt = ctx.plt
    parts = {"attention (all blocks)": layers * attn, "SwiGLU FFN (all blocks)": layers * ffn,
             "embedding = lm_head": embed, "RMSNorms": layers * norms + final}
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.barh(list(parts), [v / 1e6 for v in parts.values()], color=["tab:blue", "tab:orange", "tab:green", "grey"])
    for i, v in enumerate(parts.values()):
        ax.text(v / 1e6, i, f" {v:,} ({v / sum(parts.values()):.1%})", va="center")
    ax.set_xlabel("parameters (millions)")
    ax.set_xlim(0, max(parts.values()) / 1e6 * 1.45)
    ax.set_title("Where MiniMind2-small's 25.8M parameters are")
    fig.tight_layout()
    ctx.savefig(fig, "parameters.png")


if __name__ == "__main__":
    main(__file__)
