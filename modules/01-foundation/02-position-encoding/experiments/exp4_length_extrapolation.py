"""Position encoding exp4: what happens past the trained length.

Three small byte-level language models, identical except for how they see position, are
trained on 64-byte windows of the pretraining corpus (same seed, same batches):

- rope:    MiniMind's rotary embedding, applied to queries and keys;
- learned: a GPT-2 style table of absolute position vectors added to the input. The table
           has room for 4x the training length, but only its first 64 rows are ever trained;
- none:    no position encoding at all (only the causal mask hints at order).

We then measure held-out loss on windows of 1x, 2x and 4x the training length, and, inside
256-byte windows, separately on the bytes at positions < 64 (as in training), 64-127 and
128-255. The RoPE model is also evaluated with MiniMind2's YaRN rescaling (factor 4, original
length 64) switched on after training, without any fine-tuning.

Why it matters: a model is only trained on the lengths it sees. How its position encoding
behaves beyond them decides whether a longer context works at all, and YaRN is MiniMind2's
answer for running at 4x its 2048 trained positions.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from minimind_notes.lab.byte_lm import ByteBatches, corpus_text, eval_loss, train_lm
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.lab.variants import VariantConfig, VariantLM

TRAIN_LEN = 64
FACTORS = [1, 2, 4]  # evaluation lengths as multiples of TRAIN_LEN
POSITIONS = ["rope", "learned", "none"]
YARN = {"type": "yarn", "factor": 4, "original_max_position_embeddings": TRAIN_LEN,
        "beta_fast": 4, "beta_slow": 1}


def settings(quick: bool) -> dict:
    steps = 300  # quick mode too: at 200 steps RoPE's lead comes late enough to vanish on some seeds (seed 42, bf16)
    return dict(hidden=64, steps=steps, batch=16, lr=3e-3, eval_windows=32 if quick else 64)


def build(position: str, hidden: int) -> VariantLM:
    return VariantLM(VariantConfig(hidden_size=hidden, num_hidden_layers=2, num_attention_heads=4,
                                   num_key_value_heads=2, max_position_embeddings=TRAIN_LEN * max(FACTORS),
                                   position=position))


@torch.no_grad()
def loss_per_position(model: VariantLM, ids: torch.Tensor) -> torch.Tensor:
    """Mean next-token loss at each predicted position, (T - 1,), over the windows ids (N, T)."""
    logits = model(ids).logits[:, :-1]  # (N, T-1, V): the prediction made at position t
    loss = F.cross_entropy(logits.flatten(0, 1).float(), ids[:, 1:].flatten(), reduction="none")
    return loss.view(ids.shape[0], -1).mean(0)  # (T-1,)


def evaluate(model: VariantLM, windows: dict[int, torch.Tensor]) -> dict:
    """Loss over whole windows of each length, and over the positions past TRAIN_LEN."""
    whole = {n: eval_loss(model, ids) for n, ids in windows.items()}
    curve = loss_per_position(model, windows[max(windows)])  # (4T - 1,)
    t = TRAIN_LEN - 1  # curve[i] is the loss of predicting byte i + 1
    return {"whole": whole, "curve": curve, "inside": float(curve[:t].mean()),  # bytes 1 .. T-1
            "beyond": float(curve[t:].mean()),  # bytes T .. 4T-1: never predicted in training
            "2x": float(curve[t:2 * t + 1].mean()), "far": float(curve[2 * t + 1:].mean())}


def train_all(ctx: ExperimentContext, cfg: dict) -> tuple[dict, dict, torch.Tensor]:
    """Train one model per position encoding; also returns the learned table before training."""
    text = corpus_text("train")
    models, finals = {}, {}
    for position in POSITIONS:
        torch.manual_seed(ctx.seed)  # same init seed and the same batches for every model
        model = build(position, cfg["hidden"])
        if position == "learned":
            table_before = model.model.embed_positions.weight.detach().clone()  # (4T, C)
        log = train_lm(model, ByteBatches(text, seed=ctx.seed), cfg["steps"], cfg["batch"], TRAIN_LEN,
                       cfg["lr"], precision=ctx.precision)
        models[position], finals[position] = model, log.final()
    return models, finals, table_before


@torch.no_grad()
def table_change(model: VariantLM, before: torch.Tensor) -> tuple[float, float]:
    """Mean change of the trained rows (< TRAIN_LEN), max change of the rows never used in training."""
    delta = (model.model.embed_positions.weight - before).norm(dim=-1)  # (4T,)
    return float(delta[:TRAIN_LEN].mean()), float(delta[TRAIN_LEN:].max())


@torch.no_grad()
def without_table(model: VariantLM, ids: torch.Tensor) -> float:
    """Loss of the learned-position model with its position table zeroed: how much it relies on it."""
    weight = model.model.embed_positions.weight
    saved = weight.clone()
    weight.zero_()
    loss = eval_loss(model, ids)
    weight.copy_(saved)
    return loss


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # tiny matrices: one thread avoids contention (the runner restores it)
    cfg = settings(ctx.quick)
    ctx.log("Training 3 byte-level LMs (hidden {h}, 2 layers) for {s} steps on {t}-byte windows; "
            "then held-out loss on {a}-, {b}- and {c}-byte windows.",
            "训练 3 个字节级语言模型(hidden {h},2 层),在 {t} 字节的窗口上训练 {s} 步;"
            "然后在 {a}、{b}、{c} 字节的验证窗口上测损失。",
            h=cfg["hidden"], s=cfg["steps"], t=TRAIN_LEN, a=TRAIN_LEN * FACTORS[0],
            b=TRAIN_LEN * FACTORS[1], c=TRAIN_LEN * FACTORS[2])
    start = time.perf_counter()
    models, finals, table_before = train_all(ctx, cfg)
    ctx.metric("train_seconds", time.perf_counter() - start)
    val = ByteBatches(corpus_text("val"))
    windows = {f * TRAIN_LEN: val.fixed(cfg["eval_windows"], f * TRAIN_LEN) for f in FACTORS}  # (N, f*T)
    results = {p: evaluate(models[p], windows) for p in POSITIONS}
    learned = dict(zip(["trained_rows_change", "unused_rows_change"],
                       table_change(models["learned"], table_before), strict=True))
    learned["loss_without_table"] = without_table(models["learned"], windows[TRAIN_LEN])
    for name, value in learned.items():
        ctx.metric(f"learned_{name}", value)
    models["rope"].set_rope_scaling(YARN)  # switched on after training, no fine-tuning
    results["rope+yarn"] = evaluate(models["rope"], windows)
    table_rows(ctx, results, finals)
    findings(ctx, results, learned)
    plot(ctx, results)


def table_rows(ctx: ExperimentContext, results: dict, finals: dict) -> None:
    lengths = [f * TRAIN_LEN for f in FACTORS]
    ranges = {"inside": f"< {TRAIN_LEN}", "2x": f"{TRAIN_LEN}-{2 * TRAIN_LEN - 1}",
              "far": f"{2 * TRAIN_LEN}-{lengths[-1] - 1}", "beyond": f">= {TRAIN_LEN}"}
    for name, r in results.items():
        for n in lengths:
            ctx.metric(f"{name}_loss_{n}", r["whole"][n])
        for key, label in ranges.items():
            ctx.metric(f"{name}_loss_positions_{label.replace(' ', '')}", r[key])
    ctx.table({"en": f"Held-out loss (nats/byte) by window length; trained on {TRAIN_LEN}-byte windows",
               "zh": f"在 {TRAIN_LEN} 字节窗口上训练后,不同窗口长度的验证损失(nats/字节)"},
              ["position encoding", "final train loss"] + [f"val @ {n}" for n in lengths],
              [[name, finals.get(name, "(rope model)")] + [r["whole"][n] for n in lengths]
               for name, r in results.items()])
    ctx.table({"en": f"Held-out loss by position of the predicted byte, in {lengths[-1]}-byte windows",
               "zh": f"在 {lengths[-1]} 字节窗口中,按被预测字节的位置划分的验证损失"},
              ["position encoding"] + [f"positions {label}" for label in ranges.values()],
              [[name] + [r[key] for key in ranges] for name, r in results.items()])


def findings(ctx: ExperimentContext, results: dict, learned: dict) -> None:
    long = TRAIN_LEN * max(FACTORS)
    at_1x = {name: r["whole"][TRAIN_LEN] for name, r in results.items()}
    at_4x = {name: r["whole"][long] for name, r in results.items()}
    inside = {name: r["inside"] for name, r in results.items()}
    beyond = {name: r["beyond"] for name, r in results.items()}
    ctx.finding(
        "At the trained length ({t} bytes) RoPE learns fastest: held-out loss {r:.3f} (RoPE) < {n:.3f} "
        "(no position) < {lr:.3f} (learned absolute)",
        "在训练长度({t} 字节)上 RoPE 学得最快:验证损失 {r:.3f}(RoPE)< {n:.3f}(无位置编码)"
        "< {lr:.3f}(可学习绝对位置)",
        [Bar({"en": "no position minus RoPE", "zh": "无位置编码减 RoPE"}, at_1x["none"] - at_1x["rope"], ">", 0.05),
         Bar({"en": "learned minus no position", "zh": "可学习位置减无位置编码"}, at_1x["learned"] - at_1x["none"],
             ">", 0.05)],
        t=TRAIN_LEN, r=at_1x["rope"], n=at_1x["none"], lr=at_1x["learned"])
    near = {name: r["2x"] - r["inside"] for name, r in results.items()}  # rise on bytes T .. 2T-1
    far = {name: r["far"] - r["inside"] for name, r in results.items()}  # rise on bytes 2T .. 4T-1
    for name in ("rope", "none"):
        ctx.metric(f"{name}_near_rise", near[name])
        ctx.metric(f"{name}_far_rise", far[name])
    ctx.finding(
        "Past the trained length RoPE degrades a little, then sharply: compared with bytes < {t}, "
        "its loss is {n:+.3f} on bytes {t}-{t2} (no-position model: {nn:+.3f}) but {f:+.3f} on bytes "
        "{t3}-{e} (no-position model: {fn:+.3f})",
        "超过训练长度后,RoPE 先是略有变差,然后急剧变差:与位置 < {t} 的字节相比,"
        "它在位置 {t}-{t2} 上的损失变化 {n:+.3f}(无位置编码模型:{nn:+.3f}),"
        "而在位置 {t3}-{e} 上变化 {f:+.3f}(无位置编码模型:{fn:+.3f})",
        [Bar({"en": "RoPE's far rise", "zh": "RoPE 远处的上升"}, far["rope"], ">", 0.3),
         Bar({"en": "RoPE's far rise minus 3x its near rise", "zh": "RoPE 远处的上升减其近处上升的 3 倍"},
             far["rope"] - 3 * near["rope"], ">", 0),
         Bar({"en": "minus 3x the no-position model's far rise", "zh": "减无位置模型远处上升的 3 倍"},
             far["rope"] - 3 * far["none"], ">", 0)],
        t=TRAIN_LEN, t2=2 * TRAIN_LEN - 1, t3=2 * TRAIN_LEN, e=long - 1, n=near["rope"], nn=near["none"],
        f=far["rope"], fn=far["none"])
    r, y = results["rope"], results["rope+yarn"]
    ctx.metric("yarn_far_gain", r["far"] - y["far"])
    ctx.metric("yarn_inside_rise", y["inside"] - r["inside"])
    ctx.finding(
        "YaRN (factor 4, switched on after training, no fine-tuning) cuts RoPE's loss on bytes {t3}-{e} "
        "from {f0:.3f} to {f1:.3f}, but it also changes the rotations the model was trained on: the loss "
        "rises on bytes < {t} ({i0:.3f} -> {i1:.3f}) and {t}-{t2} ({n0:.3f} -> {n1:.3f})",
        "YaRN(factor 4,训练后直接打开,不做微调)把 RoPE 在位置 {t3}-{e} 上的损失从 {f0:.3f} 降到 {f1:.3f},"
        "但它也改变了模型训练时见过的旋转:位置 < {t} 的损失上升({i0:.3f} -> {i1:.3f}),"
        "位置 {t}-{t2} 也上升({n0:.3f} -> {n1:.3f})",
        [Bar({"en": "far gain", "zh": "远处的收益"}, r["far"] - y["far"], ">", 0.2),
         Bar({"en": "rise on bytes < 64", "zh": "位置 < 64 的上升"}, y["inside"] - r["inside"], ">", 0),
         Bar({"en": "rise on bytes 64-127", "zh": "位置 64-127 的上升"}, y["2x"] - r["2x"], ">", 0)],
        t=TRAIN_LEN, t2=2 * TRAIN_LEN - 1, t3=2 * TRAIN_LEN, e=long - 1, f0=r["far"], f1=y["far"],
        i0=r["inside"], i1=y["inside"], n0=r["2x"], n1=y["2x"])
    ctx.finding(
        "At {L} bytes (4x), RoPE + YaRN ({y:.3f}) beats the learned absolute table ({lr:.3f}) and plain "
        "RoPE ({r:.3f}); the model without positions reaches {n:.3f}",
        "在 {L} 字节(4 倍)上,RoPE + YaRN({y:.3f})好于可学习绝对位置表({lr:.3f})和普通 RoPE({r:.3f});"
        "无位置编码的模型为 {n:.3f}",
        [Bar({"en": "learned minus YaRN", "zh": "可学习位置减 YaRN"}, at_4x["learned"] - at_4x["rope+yarn"], ">", 0.1),
         Bar({"en": "plain RoPE minus YaRN", "zh": "普通 RoPE 减 YaRN"}, at_4x["rope"] - at_4x["rope+yarn"],
             ">", 0.05)],
        L=long, y=at_4x["rope+yarn"], lr=at_4x["learned"], r=at_4x["rope"], n=at_4x["none"])
    ctx.finding(
        "The learned table's rows {t}-{e} never receive a gradient: they are exactly their random "
        "initial values (max change {u:.1e}) while rows 0-{t1} moved by {m:.3f} on average. Using them, "
        "its loss is {b:.3f} on positions >= {t} vs {i:.3f} before; zeroing the whole table changes its "
        "{t}-byte loss from {l:.3f} to {z:.3f}",
        "可学习位置表的第 {t}-{e} 行从未得到梯度:它们仍是随机初始值(最大变化 {u:.1e}),"
        "而第 0-{t1} 行平均变化了 {m:.3f}。使用这些行时,它在位置 >= {t} 上的损失为 {b:.3f},之前为 {i:.3f};"
        "把整张表清零后,它在 {t} 字节上的损失从 {l:.3f} 变为 {z:.3f}",
        [Bar({"en": "largest change of the unused rows", "zh": "未用行的最大变化"}, learned["unused_rows_change"],
             "<=", 0),
         Bar({"en": "mean change of the trained rows", "zh": "训练过的行的平均变化"}, learned["trained_rows_change"],
             ">", 0.01)], t=TRAIN_LEN,
        e=long - 1, t1=TRAIN_LEN - 1, u=learned["unused_rows_change"], m=learned["trained_rows_change"],
        b=beyond["learned"], i=inside["learned"], l=at_1x["learned"], z=learned["loss_without_table"])


def plot(ctx: ExperimentContext, results: dict) -> None:
    plt = ctx.plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, r in results.items():
        smooth = r["curve"].unfold(0, 8, 1).mean(1)  # (4T - 8,): 8-position moving average
        axes[0].plot(torch.arange(len(smooth)) + 3.5, smooth, lw=1.2, label=name)
        lengths = sorted(r["whole"])
        axes[1].plot(lengths, [r["whole"][n] for n in lengths], "o-", label=name)
    axes[0].axvline(TRAIN_LEN, color="grey", ls="--", lw=1, label=f"trained length {TRAIN_LEN}")
    axes[0].set_xlabel("position in the window")
    axes[0].set_ylabel("held-out loss (nats/byte, 8-position average)")
    axes[0].set_title(f"Loss by position, {max(FACTORS) * TRAIN_LEN}-byte windows")
    axes[1].set_xscale("log", base=2)
    axes[1].set_xlabel("evaluation window length (bytes)")
    axes[1].set_ylabel("mean held-out loss (nats/byte)")
    axes[1].set_title("Loss vs evaluation length")
    for ax in axes:
        ax.legend(fontsize=8)
    ctx.savefig(fig, "length_extrapolation.png")


if __name__ == "__main__":
    main(__file__)
