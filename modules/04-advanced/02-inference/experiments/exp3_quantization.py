"""Inference exp3: weight-only quantization of a trained model: how much smaller, how much worse,
how much faster?

A small byte-level MiniMindForCausalLM (vocab 256, hidden 128, 4 layers, tied embedding) is trained
on the embedded corpus, then copied and quantized with this project's from-scratch
`minimind_notes.model.quantize`:

- INT8 per output channel (one float32 scale per row of each weight matrix);
- INT4 group-wise with groups of 32 and 64 input weights, and INT4 with one scale per row;
- where this torch still has it, PyTorch's built-in dynamic INT8 (`quantize_dynamic`), which
  quantizes weights per tensor and also the activations, on the fly.

For each we measure the bytes a checkpoint would hold, the held-out loss, the KL divergence of its
next-byte distribution from the float model's, how often its top-1 prediction agrees, the tensor
operations of one cached decoding step (counted as they run), and decoding speed: the fastest of
many repetitions of one cached decoding step after a 48-byte prompt, in CPU seconds of this process
(time.process_time, one thread), as tokens per second. QuantLinear rebuilds the float weight in
every forward, so this speed includes that Python-level dequantization; it does not show what a
fused low-bit kernel would do.
"""

from __future__ import annotations

import copy
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from minimind_notes.lab.byte_lm import ByteBatches, corpus_text, eval_loss, train_lm, unigram_entropy
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.lab.measure import recorded_ops
from minimind_notes.model import MiniMindConfig, MiniMindForCausalLM, SamplingConfig, generate, preset
from minimind_notes.model.quantize import QuantLinear, model_size_bytes, quantize_model, torch_dynamic_int8

SEQ, BATCH, LR = 64, 16, 3e-3
CONFIG = dict(hidden_size=128, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
              vocab_size=256, max_position_embeddings=512)
SCHEMES = {  # name -> (bits, group_size); None = one scale per output channel (row)
    "INT8 per channel": (8, None),
    "INT4 group 32": (4, 32),
    "INT4 group 64": (4, 64),
    "INT4 per channel": (4, None),
}
TORCH_INT8 = "torch dynamic INT8"


def train_model(steps: int, seed: int, precision: str) -> tuple[MiniMindForCausalLM, float]:
    torch.manual_seed(seed)
    model = MiniMindForCausalLM(MiniMindConfig(**CONFIG))
    log = train_lm(model, ByteBatches(corpus_text("train"), seed=seed), steps, batch_size=BATCH, seq_len=SEQ,
                   lr=LR, precision=precision)
    return model.eval(), log.final()


@torch.no_grad()
def compare_predictions(model: nn.Module, reference_logits: torch.Tensor, val: torch.Tensor) -> dict:
    """Mean KL(float || quantized) per byte and top-1 agreement with the float model on val."""
    logits = torch.cat([model(val[i:i + 16]).logits for i in range(0, len(val), 16)])
    ref_logp, logp = F.log_softmax(reference_logits, -1), F.log_softmax(logits, -1)
    kl = (ref_logp.exp() * (ref_logp - logp)).sum(-1).mean()
    agree = (logits.argmax(-1) == reference_logits.argmax(-1)).float().mean()
    return {"kl": float(kl), "agree": float(agree)}


@torch.no_grad()
def weight_error(model: nn.Module, quantized: nn.Module) -> float:
    """||W - dequantized W|| / ||W|| over all the Linear weights the quantizer replaced (0 for none)."""
    floats = dict(model.named_modules())
    err = norm = 0.0
    for name, q in quantized.named_modules():
        if isinstance(q, QuantLinear):
            approx = q.dequantize()
        elif type(floats.get(name)) is nn.Linear and type(q) is not nn.Linear:
            approx = q.weight().dequantize()  # PyTorch's quantized Linear: weight() is a quantized tensor
        else:
            continue
        w = floats[name].weight
        err += float((w - approx).pow(2).sum())
        norm += float(w.pow(2).sum())
    return math.sqrt(err / norm) if norm else 0.0


@torch.no_grad()
def continuation(model: nn.Module, prompt: torch.Tensor, new_tokens: int) -> str:
    cfg = SamplingConfig(max_new_tokens=new_tokens, temperature=0, eos_token_id=None)
    tokens = generate(model, prompt, cfg=cfg)[0, prompt.shape[1]:]
    return bytes(tokens.tolist()).decode("utf-8", errors="replace")


@torch.no_grad()
def decode_step(models: dict[str, nn.Module], prompt: torch.Tensor, reps: int, rounds: int) -> dict:
    """Per model, one cached decoding step (one new token after `prompt`): the tensor operations it
    runs and how many are matrix multiplies (counted), and its fastest time.

    The same step is repeated (the cache is not extended), models interleaved round by round, and the
    fastest repetition kept. CPU time of this process: other programs on a shared machine do not count,
    though they can still slow it (shared caches and memory), so the time is reported, not checked.
    """
    out = {}
    steps = {}
    for name, model in models.items():
        first = model(prompt, use_cache=True)
        token, past = first.logits[:, -1:].argmax(-1), first.past_key_values  # next token (1, 1), cache
        steps[name] = lambda m=model, t=token, p=past: m(t, past_key_values=p, use_cache=True, logits_to_keep=1)
        ops = recorded_ops(steps[name])
        out[name] = {"ops": len(ops), "matmuls": sum(op.name in ("mm", "addmm", "bmm") for op in ops)}
    best = {name: math.inf for name in models}
    for _ in range(rounds):
        for name, step in steps.items():
            for _ in range(reps):
                start = time.process_time()
                step()
                best[name] = min(best[name], time.process_time() - start)
    for name in models:
        out[name]["seconds"] = best[name]
    return out


@torch.no_grad()
def minimind2_small_mb() -> dict[str, float]:
    """MiniMind2-small's checkpoint in MB (1e6 bytes) per format; random weights: the bytes follow from the shapes."""
    model = MiniMindForCausalLM(preset("minimind2-small"))
    sizes = {"float32": model_size_bytes(model) / 1e6}
    sizes["INT8 per channel"] = model_size_bytes(quantize_model(copy.deepcopy(model), 8)) / 1e6
    sizes["INT4 group 32"] = model_size_bytes(quantize_model(model, 4, 32)) / 1e6
    return sizes


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # small matrices: one thread is fastest and steady on a busy CPU
    steps = 60 if ctx.quick else 400
    new_tokens, reps = (32, 10) if ctx.quick else (96, 30)
    val = ByteBatches(corpus_text("val")).fixed(32 if ctx.quick else 128, SEQ)
    ctx.log("Training MiniMindForCausalLM (hidden 128, 4 layers, vocab 256, tied embedding): {s} steps, "
            "batch {b} x {t} bytes, lr {lr}, seed {seed}.",
            "训练 MiniMindForCausalLM(hidden 128,4 层,词表 256,embedding 与 lm_head 共享):{s} 步,"
            "batch {b} x {t} 字节,学习率 {lr},种子 {seed}。", s=steps, b=BATCH, t=SEQ, lr=LR, seed=ctx.seed)
    model, train_loss = train_model(steps, ctx.seed, ctx.precision)
    models: dict[str, nn.Module] = {"float32": model}
    for name, (bits, group) in SCHEMES.items():
        models[name] = quantize_model(copy.deepcopy(model), bits, group)
    reference, why = torch_dynamic_int8(model)
    if reference is not None:
        models[TORCH_INT8] = reference
    else:
        ctx.log("PyTorch's dynamic INT8 is skipped: {why}", "跳过 PyTorch 自带的动态 INT8:{why}", why=why)

    with torch.no_grad():
        ref_logits = torch.cat([model(val[i:i + 16]).logits for i in range(0, len(val), 16)])
    rows = {}
    for name, m in models.items():
        rows[name] = {"bytes": model_size_bytes(m), "loss": eval_loss(m, val), "weight_error": weight_error(model, m),
                      **compare_predictions(m, ref_logits, val)}
    steps = decode_step(models, val[:1, :48], reps, rounds=3)
    for name, m in models.items():
        rows[name].update(tok_s=1 / steps[name]["seconds"], step_ops=steps[name]["ops"],
                          step_matmuls=steps[name]["matmuls"], text=continuation(m, val[:1, :16], new_tokens))
    ctx.metric("results", {name: {k: v for k, v in r.items() if k != "text"} for name, r in rows.items()})
    ctx.metric("train_loss_last10", train_loss)
    base = rows["float32"]
    ctx.table({"en": f"Quantized copies of one trained model ({steps} steps); held-out: {len(val)} x {SEQ} bytes",
               "zh": f"同一个训练好的模型({steps} 步)的各种量化版本;验证集:{len(val)} x {SEQ} 字节"},
              ["model", "bytes", "x smaller", "weight error", "held-out loss", "loss change", "KL vs float32",
               "top-1 agree", "decode tok/s", "speed vs float32"],
              [[name, r["bytes"], base["bytes"] / r["bytes"], r["weight_error"], r["loss"], r["loss"] - base["loss"],
                r["kl"], r["agree"], r["tok_s"], r["tok_s"] / base["tok_s"]] for name, r in rows.items()])
    ctx.table({"en": f"Greedy continuation of the same 16-byte prompt ({new_tokens} bytes)",
               "zh": f"同一个 16 字节提示的贪心续写({new_tokens} 字节)"},
              ["model", "text"], [[name, repr(r["text"])] for name, r in rows.items()])

    findings(ctx, rows, unigram_entropy(corpus_text("train")))
    full = minimind2_small_mb()
    ctx.metric("minimind2_small_mb", list(full.values()))  # float32, INT8 per channel, INT4 groups of 32
    ctx.metric("minimind2_small_int4_ratio", full["float32"] / full["INT4 group 32"])
    ctx.code_fact(
        "The same quantizer on MiniMind2-small (25.8M weights): {f:.1f} MB in float32, {a:.1f} MB in INT8 per "
        "channel, {b:.1f} MB in INT4 with groups of 32, {r:.1f}x smaller, not 8x (the bytes follow from the shapes)",
        "同一个量化器用在 MiniMind2-small(2580 万个权重)上:float32 {f:.1f} MB,INT8 按通道 {a:.1f} MB,"
        "INT4 每 32 个一组 {b:.1f} MB,小 {r:.1f} 倍,不是 8 倍(字节数由形状决定)",
        6 < full["float32"] / full["INT4 group 32"] < 8, f=full["float32"], a=full["INT8 per channel"],
        b=full["INT4 group 32"], r=full["float32"] / full["INT4 group 32"])
    plot(ctx, rows)


def findings(ctx: ExperimentContext, rows: dict, unigram: float) -> None:
    base, i8, g32, g64, row4 = (rows[k] for k in ("float32", "INT8 per channel", "INT4 group 32", "INT4 group 64",
                                                  "INT4 per channel"))
    ctx.finding(
        "The float model has learned context: held-out loss {l:.3f} nats/byte vs {u:.3f} for byte frequencies",
        "浮点模型学到了上下文:验证损失 {l:.3f} nats/字节,只按字节频率预测是 {u:.3f}",
        Bar({"en": "byte-frequency loss minus the model's", "zh": "字节频率损失减去模型损失"}, unigram - base["loss"],
            ">", 0.2), l=base["loss"], u=unigram)
    r8, r4 = base["bytes"] / i8["bytes"], base["bytes"] / g32["bytes"]
    ctx.code_fact(
        "Size: {f:,} bytes in float32, {a:,} in INT8 per channel ({r8:.2f}x smaller) and {b:,} in INT4 with "
        "groups of 32 ({r4:.2f}x); the scales cost the rest of the ideal 4x and 8x (one float32 per row, or "
        "per 32 weights = 1 extra bit per weight; it follows from the format)",
        "大小:float32 为 {f:,} 字节,INT8 按输出通道量化为 {a:,}(小 {r8:.2f} 倍),INT4 每 32 个一组为 {b:,}"
        "(小 {r4:.2f} 倍);离理想的 4 倍和 8 倍差的那一点是 scale 的开销(每行一个 float32,或每 32 个权重"
        "一个,相当于每个权重多 1 bit;由格式决定)",
        r8 > 3.7 and r4 > 6.0, f=base["bytes"], a=i8["bytes"], b=g32["bytes"], r8=r8, r4=r4)
    d8, d4 = i8["loss"] - base["loss"], g32["loss"] - base["loss"]
    for key in ("weight_error", "kl"):  # INT8 per channel, INT4 groups of 32, 64, per row: quoted by the text
        ctx.metric(key, [r[key] for r in (i8, g32, g64, row4)])
    ctx.metric("int4_int8_kl_ratio", g32["kl"] / i8["kl"])
    ctx.finding(
        "Quality: INT8 changes the held-out loss by {d8:+.4f} nats and INT4 (groups of 32) by {d4:+.4f}; the "
        "KL divergence from the float model's predictions is {k8:.2e} vs {k4:.2e}, {ratio:.0f}x larger for "
        "INT4",
        "质量:INT8 让验证损失变化 {d8:+.4f} nats,INT4(每 32 个一组)变化 {d4:+.4f};与浮点模型预测分布的 "
        "KL 散度分别为 {k8:.2e} 和 {k4:.2e},INT4 大 {ratio:.0f} 倍",
        [Bar({"en": "|INT8 loss change|", "zh": "INT8 损失变化的绝对值"}, abs(d8), "<", 0.01),
         Bar({"en": "|INT4 loss change|", "zh": "INT4 损失变化的绝对值"}, abs(d4), "<", 0.1),
         Bar({"en": "INT4 KL / INT8 KL", "zh": "INT4 的 KL / INT8 的 KL"}, g32["kl"] / i8["kl"], ">", 10)],
        d8=d8, d4=d4, k8=i8["kl"], k4=g32["kl"],
        ratio=g32["kl"] / i8["kl"])
    kls = [g32["kl"], g64["kl"], row4["kl"]]
    spread = max(kls) / min(kls)
    ctx.finding(
        "Smaller groups, smaller weight error: relative INT4 weight error {a:.4f} with groups of 32, {b:.4f} with "
        "64, {c:.4f} with one scale per row, paid for with {x:,} / {y:,} / {z:,} bytes. In the output the three "
        "differ far less than INT4 differs from INT8: KL {ka:.2e} / {kb:.2e} / {kc:.2e} (spread {sp:.1f}x), top-1 "
        "agreement {pa:.1%} / {pb:.1%} / {pc:.1%}",
        "分组越小,权重误差越小:INT4 的相对权重误差在每 32 个一组时为 {a:.4f},每 64 个一组为 {b:.4f},"
        "每行一个 scale 为 {c:.4f},代价是 {x:,} / {y:,} / {z:,} 字节。三者在输出上的差别远小于 INT4 与 INT8 "
        "之间的差别:KL 为 {ka:.2e} / {kb:.2e} / {kc:.2e}(最大最小相差 {sp:.1f} 倍),top-1 一致率 "
        "{pa:.1%} / {pb:.1%} / {pc:.1%}",
        [Bar({"en": "weight error 64 / 32", "zh": "权重误差 64 / 32"}, g64["weight_error"] / g32["weight_error"],
             ">", 1),
         Bar({"en": "weight error per row / 64", "zh": "权重误差 每行 / 64"},
             row4["weight_error"] / g64["weight_error"], ">", 1),
         Bar({"en": "INT4/INT8 KL ratio / the INT4 KL spread", "zh": "INT4/INT8 的 KL 之比 / INT4 三者 KL 的相差倍数"},
             g32["kl"] / i8["kl"] / spread, ">", 1)],
        sp=spread, a=g32["weight_error"],
        b=g64["weight_error"], c=row4["weight_error"], x=g32["bytes"], y=g64["bytes"], z=row4["bytes"],
        ka=g32["kl"], kb=g64["kl"], kc=row4["kl"], pa=g32["agree"], pb=g64["agree"], pc=row4["agree"])
    s8, s4 = i8["tok_s"] / base["tok_s"], g32["tok_s"] / base["tok_s"]
    ctx.code_fact(
        "Speed, honestly: QuantLinear rebuilds every float weight on every step (INT4 also unpacks nibbles) and "
        "then does the same float matmuls: a cached decoding step runs {o0} tensor operations in float32, {o8} with "
        "INT8 and {o4} with INT4, and {m0} / {m8} / {m4} matrix multiplies (counted: it follows from the code). "
        "So the smaller stored weight buys memory, not time: "
        "here the step ran at {s8:.2f}x the float speed with INT8 and {s4:.2f}x with INT4 (fastest CPU time of "
        "interleaved repeats; reported, not checked: other processes move a timing)",
        "速度,实话实说:QuantLinear 每一步都要把所有浮点权重重建一遍(INT4 还要拆半字节),然后做的仍是同样的"
        "浮点矩阵乘法:带 KV cache 的一步解码,float32 执行 {o0} 个张量运算,INT8 {o8} 个,INT4 {o4} 个,矩阵乘法"
        "分别是 {m0} / {m8} / {m4} 个(运行时计数:由代码决定)。"
        "所以存得更小的权重换来的是内存,不是时间:这里 INT8 一步的速度是浮点的 {s8:.2f} 倍,INT4 是 {s4:.2f} 倍"
        "(交替重复中最快的 CPU 时间;只报告、不作检验:其他进程会影响耗时)",
        base["step_ops"] < i8["step_ops"] < g32["step_ops"] and base["step_matmuls"] == i8["step_matmuls"]
        == g32["step_matmuls"], o0=base["step_ops"], o8=i8["step_ops"], o4=g32["step_ops"], m0=base["step_matmuls"],
        m8=i8["step_matmuls"], m4=g32["step_matmuls"], s8=s8, s4=s4)
    if TORCH_INT8 in rows:
        t = rows[TORCH_INT8]
        ctx.finding(
            "PyTorch's dynamic INT8 (one scale per weight matrix, and activations quantized on the fly): weight "
            "error {we:.4f} vs {we8:.4f} for our per-channel INT8, KL {k:.2e} vs {k8:.2e}, loss change {d:+.4f}; "
            "{b:,} bytes vs our {a:,}, because it leaves the tied embedding/lm_head matrix in float32; decoding "
            "at {s:.2f}x float speed",
            "PyTorch 自带的动态 INT8(每个权重矩阵一个 scale,激活值在运行时量化):权重误差 {we:.4f},我们按通道"
            "量化的 INT8 为 {we8:.4f};KL 为 {k:.2e},我们的为 {k8:.2e};损失变化 {d:+.4f};大小 {b:,} 字节,"
            "我们的是 {a:,},因为它把共享的 embedding/lm_head 矩阵留在了 float32;解码速度为浮点的 {s:.2f} 倍",
            [Bar({"en": "|loss change|", "zh": "损失变化的绝对值"}, abs(t["loss"] - base["loss"]), "<", 0.02),
             Bar({"en": "its KL / our INT8's", "zh": "它的 KL / 我们 INT8 的"}, t["kl"] / i8["kl"], ">", 1),
             Bar({"en": "its bytes / our INT8's", "zh": "它的字节数 / 我们 INT8 的"}, t["bytes"] / i8["bytes"],
                 ">", 1)],
            we=t["weight_error"], we8=i8["weight_error"], k=t["kl"], k8=i8["kl"], d=t["loss"] - base["loss"],
            b=t["bytes"], a=i8["bytes"], s=t["tok_s"] / base["tok_s"])


def plot(ctx: ExperimentContext, rows: dict) -> None:
    plt = ctx.plt
    names = list(rows)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    axes[0].bar(names, [rows[n]["bytes"] / 1e6 for n in names], color="tab:blue")
    axes[0].set_ylabel("checkpoint size, MB")
    axes[1].bar(names[1:], [rows[n]["kl"] for n in names[1:]], color="tab:red")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("KL(float32 || quantized), nats per byte")
    axes[2].bar(names, [rows[n]["tok_s"] for n in names], color="tab:green")
    axes[2].set_ylabel("decoding, tokens per CPU second (1 cached step)")
    for ax in axes:
        ax.tick_params(axis="x", rotation=45, labelsize=8)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
    fig.suptitle("Weight-only quantization: size, error, speed")
    ctx.savefig(fig, "quantization.png")


if __name__ == "__main__":
    main(__file__)
