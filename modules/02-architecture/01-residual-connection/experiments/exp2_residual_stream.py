"""Residual connection exp2: the residual stream, block by block.

A 6-layer MiniMind-style model (the real Pre-LN block: x + attn(norm(x)), h + mlp(norm(h))) is
trained briefly on byte-level text. Then, on held-out windows, we watch the stream: for every
block, the size of what attention and the FFN add relative to the stream they add it to, the
stream's norm after each block, and the cosine similarity of the stream before and after the
block. Each block reads the stream through its norm and writes a correction back into it; none
of them replaces it. The same measurements at initialization show how training changes that.
"""

from __future__ import annotations

import torch

from minimind_notes.lab.byte_lm import ByteBatches, corpus_text, eval_loss, train_lm
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.lab.variants import VariantConfig, VariantLM

LAYERS, SEQ, BATCH, LR = 6, 64, 16, 3e-3


def rms(x: torch.Tensor) -> float:
    return float(x.pow(2).mean().sqrt())


@torch.no_grad()
def trace_stream(model: VariantLM, ids: torch.Tensor) -> list[dict]:
    """Per block: |attn update| / |stream in|, |ffn update| / |stream mid|, stream RMS out, cos(in, out)."""
    model.eval()
    t = ids.shape[1]
    rope = (model.freqs_cos[:t], model.freqs_sin[:t])
    x = model.model.embed_tokens(ids)  # (B, T, C): the stream starts as the token embedding
    rows = [{"layer": "embed", "stream_rms": rms(x)}]
    for i, block in enumerate(model.model.layers):
        attn = block.self_attn(block.input_layernorm(x), rope)[0]  # what attention writes
        mid = x + attn
        ffn = block.mlp(block.post_attention_layernorm(mid))  # what the FFN writes
        out = mid + ffn
        assert torch.allclose(out, block(x, rope), atol=1e-5)  # the same as the real block
        cos = torch.nn.functional.cosine_similarity(x.flatten(0, 1), out.flatten(0, 1), dim=-1).mean()
        rows.append({"layer": i, "attn_ratio": rms(attn) / rms(x), "ffn_ratio": rms(ffn) / rms(mid),
                     "stream_rms": rms(out), "cos_in_out": float(cos)})
        x = out
    return rows


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest and steady on a busy CPU
    torch.manual_seed(ctx.seed)
    model = VariantLM(VariantConfig(num_hidden_layers=LAYERS))
    val = ByteBatches(corpus_text("val")).fixed(16, SEQ)
    before = trace_stream(model, val)
    steps = 120 if ctx.quick else 400
    loss0 = eval_loss(model, val)
    train_lm(model, ByteBatches(corpus_text("train"), seed=ctx.seed), steps, batch_size=BATCH, seq_len=SEQ, lr=LR,
             precision=ctx.precision)
    loss1 = eval_loss(model, val)
    after = trace_stream(model, val)
    ctx.metric("stream_init", before)
    ctx.metric("stream_trained", after)
    ctx.metric("val_loss", [loss0, loss1])
    ctx.log("VariantLM, hidden 64, {n} layers, trained {s} steps: held-out loss {a:.3f} -> {b:.3f} nats/byte.",
            "VariantLM,hidden 64,{n} 层,训练 {s} 步:验证损失 {a:.3f} -> {b:.3f} nats/字节。",
            n=LAYERS, s=steps, a=loss0, b=loss1)
    ctx.table({"en": "The residual stream per block: init -> trained (update size relative to the stream)",
               "zh": "逐块观察残差流:初始化 -> 训练后(更新量相对残差流的大小)"},
              ["block", "attn/stream init", "attn/stream trained", "ffn/stream init", "ffn/stream trained",
               "stream RMS init", "stream RMS trained", "cos(in, out) trained"],
              [[r0["layer"], r0.get("attn_ratio", "-"), r1.get("attn_ratio", "-"), r0.get("ffn_ratio", "-"),
                r1.get("ffn_ratio", "-"), r0["stream_rms"], r1["stream_rms"], r1.get("cos_in_out", "-")]
               for r0, r1 in zip(before, after, strict=True)])
    findings(ctx, before[1:], after, steps)
    plot(ctx, before, after)


def findings(ctx: ExperimentContext, before: list[dict], after: list[dict], steps: int) -> None:
    blocks = after[1:]
    later = blocks[1:]
    cos_min = min(r["cos_in_out"] for r in later)
    ctx.metric("cos_min_later", cos_min)
    ctx.finding(
        "Blocks nudge the stream, they do not replace it: after training, the stream after blocks 1-{n} points "
        "almost the same way as before them (cosine {c:.2f} at least)",
        "块只是微调残差流,而不是替换它:训练后,第 1-{n} 块前后的残差流方向几乎不变(余弦相似度至少 {c:.2f})",
        Bar({"en": "smallest cosine after block 0", "zh": "第 0 块之后的最小余弦"}, cos_min, ">", 0.5),
        n=len(blocks) - 1, c=cos_min)
    growth = [b["stream_rms"] for b in after]
    ctx.finding(
        "The stream's RMS grows as every block adds to it: {g} from the embedding to the last block",
        "每一块都往残差流里加东西,它的 RMS 随深度增长:从词嵌入到最后一块依次为 {g}",
        [Bar({"en": "last block / first block", "zh": "最后一块 / 第一块"}, growth[-1] / growth[1], ">", 1),
         Bar({"en": "last block / embedding", "zh": "最后一块 / 词嵌入"}, growth[-1] / growth[0], ">", 1.5)],
        g=" -> ".join(f"{v:.3f}" for v in growth))
    first = max(blocks[0]["attn_ratio"], blocks[0]["ffn_ratio"])
    rest = max(max(r["attn_ratio"], r["ffn_ratio"]) for r in later)
    init = max(max(r["attn_ratio"], r["ffn_ratio"]) for r in before)
    ctx.metric("write_ratio_block0", first)
    ctx.metric("write_ratio_later_max", rest)
    ctx.finding(
        "After {s} steps block 0 is special: it writes {f:.1f}x the stream it receives (the small embedding, "
        "std 0.02 at init, is turned into the working stream), while blocks 1-{n} add at most {r:.2f}x of the "
        "stream: small corrections (at init every block wrote at most {i:.2f}x)",
        "训练 {s} 步后第 0 块很特别:它写入的量是收到的残差流的 {f:.1f} 倍(初始化时标准差只有 0.02 的小词嵌入,"
        "被它变成真正工作的残差流),而第 1-{n} 块最多只加残差流的 {r:.2f} 倍:都是小修正"
        "(初始化时每块最多写入 {i:.2f} 倍)",
        [Bar({"en": "block 0's write / stream", "zh": "第 0 块写入量 / 残差流"}, first, ">", 1),
         Bar({"en": "later blocks' largest write / stream", "zh": "之后各块最大写入量 / 残差流"}, rest, "<", 1)],
        s=steps, f=first, n=len(blocks) - 1, r=rest, i=init)


def plot(ctx: ExperimentContext, before: list[dict], after: list[dict]) -> None:
    plt = ctx.plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    layers = [r["layer"] for r in after[1:]]
    for rows, style, name in ((before, "--", "init"), (after, "-", "trained")):
        left.plot(layers, [r["attn_ratio"] for r in rows[1:]], "o" + style, label=f"attention, {name}")
        left.plot(layers, [r["ffn_ratio"] for r in rows[1:]], "s" + style, label=f"FFN, {name}")
        right.plot(range(len(rows)), [r["stream_rms"] for r in rows], "o" + style, label=name)
    left.set_xlabel("block")
    left.set_ylabel("|update| / |stream|")
    left.legend(fontsize=8)
    right.set_xlabel("position in the stack (0 = embedding)")
    right.set_ylabel("stream RMS")
    right.legend()
    fig.suptitle("The residual stream: each block adds a correction")
    ctx.savefig(fig, "residual_stream.png")


if __name__ == "__main__":
    main(__file__)
