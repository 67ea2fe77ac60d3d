"""Pretrain exp2: how held-out loss scales with model size and with tokens seen, on a small grid.

Models of several widths (hidden 32, 64, 128 in quick mode; also 256 in full mode; 2 layers each)
are pretrained by the project's `Trainer` on the same data in the same order (same seed), with the
same learning rate. The held-out loss is measured every time the number of tokens seen doubles.
The learning rate is held constant after a short warm-up (min_lr_ratio = 1), so every intermediate
point of a run is a fair "what has this model learned after D tokens" reading, not a point in the
middle of a decay.

One learning rate serves every size (1e-3). Published scaling studies tune it per size; a shared
rate can decide the ranking by itself. While this experiment was built, 3e-3 in full mode put
hidden 64 ahead of 128 and 256 at the last token count, while 1e-3 kept the order by size.

Then:
- loss against tokens for each size (log-log), with a fitted slope over the last points;
- loss against parameters at the last token count, compared with the seed-to-seed noise: the
  smallest model trained again with two more seeds (different inits and data orders);
- the same runs against estimated training compute C = 6 N D (N parameters, D tokens): which size
  is ahead when each has spent the same number of FLOPs, and the measured seconds per step.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from minimind_notes.device import synchronize
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.lab.stage import lab_config
from minimind_notes.train.loop import Trainer

NOISE_FACTOR = 2  # a difference counts when it exceeds this many times the seed-to-seed spread (of 3 seeds)
SETTINGS = dict(num_hidden_layers=2, max_seq_len=48, batch_size=8, learning_rate=1e-3, warmup_steps=5,
                min_lr_ratio=1.0, time_budget=None)


def grid(quick: bool) -> tuple[list[int], list[int]]:
    """(hidden sizes, steps at which to evaluate): the token count doubles from one evaluation to the next."""
    sizes = [32, 64, 128] if quick else [32, 64, 128, 256]
    marks = [6 * 2 ** i for i in range(4 if quick else 7)]  # quick: 6 ... 48 steps; full: 6 ... 384
    return sizes, marks


def non_embedding(model: torch.nn.Module) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if "embed_tokens" not in n)


def train_size(hidden: int, marks: list[int], seed: int, out_dir: str, eval_batches: int, precision: str) -> dict:
    """One model through the real Trainer; held-out loss at each mark, training seconds per step."""
    cfg = lab_config("pretrain", out_dir, hidden_size=hidden, max_steps=marks[-1], seed=seed, precision=precision,
                     eval_batches=eval_batches, **SETTINGS)
    trainer = Trainer(cfg, echo=lambda t: None)
    points, seconds = [], 0.0
    while trainer.step < marks[-1]:
        start = time.perf_counter()
        trainer.train_step()
        synchronize(trainer.device)
        seconds += time.perf_counter() - start
        if trainer.step in marks:
            points.append({"step": trainer.step, "tokens": trainer.tokens, **trainer.evaluate()})
    params = sum(p.numel() for p in trainer.model.parameters())
    return {"hidden": hidden, "seed": seed, "params": params, "non_embedding": non_embedding(trainer.model),
            "points": points, "sec_per_step": seconds / trainer.step}


def loss_at_tokens(run: dict, tokens: float) -> float:
    """Held-out loss at `tokens`, interpolated linearly in log(tokens) between measured points."""
    xs = np.log([p["tokens"] for p in run["points"]])
    return float(np.interp(math.log(tokens), xs, [p["val_loss"] for p in run["points"]]))


def slope(run: dict, last: int = 3) -> float:
    """d log(loss) / d log(tokens) over the last `last` points: the local power-law exponent."""
    pts = run["points"][-last:]
    return float(np.polyfit(np.log([p["tokens"] for p in pts]), np.log([p["val_loss"] for p in pts]), 1)[0])


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # small models: one thread is fastest and steady on a busy CPU
    sizes, marks = grid(ctx.quick)
    eval_batches = 4 if ctx.quick else 8
    ctx.log("Pretraining hidden {h} (2 layers each) for {s} steps of batch {b} x {t} tokens, lr {lr} held constant "
            "after {w} warm-up steps, seed {seed}; held-out loss at steps {m}.",
            "预训练 hidden 为 {h} 的模型(都是 2 层),各训练 {s} 步,batch {b} x {t} 个 token,学习率 {lr},"
            "warm-up {w} 步后保持不变,种子 {seed};在第 {m} 步测验证集损失。",
            h=" / ".join(map(str, sizes)), s=marks[-1], b=SETTINGS["batch_size"], t=SETTINGS["max_seq_len"],
            lr=SETTINGS["learning_rate"], w=SETTINGS["warmup_steps"], seed=ctx.seed, m=", ".join(map(str, marks)))
    runs = {h: train_size(h, marks, ctx.seed, str(ctx.out_dir), eval_batches, ctx.precision) for h in sizes}
    # the smallest model again with two more seeds: three runs give the seed-to-seed spread
    noise_runs = [train_size(sizes[0], marks, ctx.seed + i, str(ctx.out_dir), eval_batches, ctx.precision)
                  for i in (1, 2)]
    ctx.metric("runs", {str(h): r for h, r in runs.items()})
    ctx.metric("noise_runs", noise_runs)
    tokens = [p["tokens"] for p in runs[sizes[0]]["points"]]
    ctx.table({"en": "Held-out loss (nats per token) by model size and tokens seen",
               "zh": "不同模型大小、不同已见 token 数下的验证集损失(每 token 的 nats)"},
              ["hidden", "seed", "parameters", "non-embedding", "s/step", *[f"{t:,} tok" for t in tokens]],
              [[r["hidden"], r["seed"], r["params"], r["non_embedding"], r["sec_per_step"],
                *[p["val_loss"] for p in r["points"]]] for r in [*runs.values(), *noise_runs]])
    findings(ctx, runs, noise_runs, sizes)
    plot(ctx, runs, noise_runs, sizes)


def findings(ctx: ExperimentContext, runs: dict, noise_runs: list[dict], sizes: list[int]) -> None:
    final = {h: r["points"][-1]["val_loss"] for h, r in runs.items()}
    small, big = sizes[0], sizes[-1]
    seed_losses = [final[small], *(r["points"][-1]["val_loss"] for r in noise_runs)]
    noise = ctx.metric("seed_noise", max(seed_losses) - min(seed_losses))  # spread of 3 seeds
    gap = ctx.metric("size_gap", final[small] - final[big])
    d_final = runs[small]["points"][-1]["tokens"]
    ctx.finding(
        "At {d:,} tokens, bigger is better: held-out loss {l} for hidden {h} ({p} parameters), a gain of {s} nats "
        "per size step. The largest model is {g:.3f} nats below the smallest; the smallest model trained with "
        "seeds {sd} spans {n:.3f}: the gap is {gn:.0f}x that seed noise (only the two ends are checked, since "
        "neighbouring sizes can sit closer than the noise)",
        "在 {d:,} 个 token 处,模型越大越好:hidden {h}({p} 个参数)的验证集损失分别为 {l},每增大一档分别降低 "
        "{s} nats。最大的模型比最小的低 {g:.3f} nats;最小的模型用种子 {sd} 各训练一次,结果的极差为 {n:.3f}:"
        "差距是这个种子噪声的 {gn:.0f} 倍(只检验两端,因为相邻两档之间可能比噪声还近)",
        Bar({"en": "gap / seed noise", "zh": "差距 / 种子噪声"}, ctx.metric("gap_over_noise", gap / max(noise, 1e-9)),
            ">", NOISE_FACTOR),
        s=" / ".join(f"{final[a] - final[b]:.3f}" for a, b in zip(sizes, sizes[1:], strict=False)), d=d_final,
        l=" / ".join(f"{final[h]:.3f}" for h in sizes),
        h=" / ".join(map(str, sizes)), p=" / ".join(f"{runs[h]['params']:,}" for h in sizes),
        g=gap, n=noise, gn=gap / max(noise, 1e-9),
        sd=", ".join(str(r["seed"]) for r in [runs[small], *noise_runs]))
    smallest_fall = min(a["val_loss"] - b["val_loss"] for r in runs.values()
                        for a, b in zip(r["points"], r["points"][1:], strict=False))
    slopes = {h: slope(r) for h, r in runs.items()}
    ctx.finding(
        "Loss falls with tokens for every size: each doubling of the tokens seen lowered the held-out loss, in every "
        "run. Over the last three doublings loss ~ D^k with k = {k} (hidden {h}); exponents fitted on so few, such "
        "early points are descriptive, not the asymptotic law",
        "对每个大小,损失都随 token 数下降:每个模型每次把已见 token 数翻倍,验证集损失都下降了。在最后三次翻倍上拟合 "
        "loss ~ D^k,k = {k}(hidden {h});用这么少、这么早期的点拟合出的指数只是描述,不是渐近规律",
        Bar({"en": "smallest fall per doubling (nats)", "zh": "每次翻倍最小的降幅(nats)"}, smallest_fall, ">", 0),
        k=" / ".join(f"{slopes[h]:.3f}" for h in sizes), h=" / ".join(map(str, sizes)))
    # Equal compute: C = 6 N D. The largest model spends the smallest one's whole budget after N_small / N_big
    # of the tokens; its loss there is read off its own curve.
    n_small, n_big = runs[small]["params"], runs[big]["params"]
    d_equal = d_final * n_small / n_big
    big_at_equal = loss_at_tokens(runs[big], d_equal)
    first_tokens = runs[big]["points"][0]["tokens"]  # below it the big model's curve is not measured
    lead = ctx.metric("equal_compute_lead", big_at_equal - final[small]) / max(noise, 1e-9)
    ctx.code_fact(
        "The equal-compute point lies on the big model's measured curve: {de:,.0f} tokens, at or after its first "
        "evaluation at {ft:,} tokens (fixed by the sizes and the evaluation interval)",
        "等算力点落在大模型实测的曲线上:{de:,.0f} 个 token,不早于它第一次评估时的 {ft:,} 个 token"
        "(由模型大小和评估间隔决定)",
        Bar({"en": "equal-compute tokens / first evaluation's", "zh": "等算力 token 数 / 第一次评估的 token 数"},
            d_equal / first_tokens, ">=", 1), de=d_equal, ft=first_tokens)
    ctx.finding(
        "Per token the big model wins, per FLOP the small one does: with compute C = 6 N D, hidden {hs} spent "
        "{c:.2e} FLOPs on {d:,} tokens and reached {ls:.3f}; hidden {hb} ({r:.1f}x the parameters) had spent the same "
        "compute after only {de:,.0f} tokens, where its loss was {lb:.3f}, {k:.0f}x the seed noise above the small "
        "model",
        "按 token 算大模型赢,按 FLOP 算小模型赢:算力 C = 6 N D,hidden {hs} 用 {c:.2e} FLOPs 看了 {d:,} 个 token,"
        "损失 {ls:.3f};hidden {hb}(参数是它的 {r:.1f} 倍)花掉同样的算力时只看了 {de:,.0f} 个 token,那时损失为 "
        "{lb:.3f},比小模型高出种子噪声的 {k:.0f} 倍",
        Bar({"en": "small model's lead / seed noise", "zh": "小模型的领先 / 种子噪声"}, lead, ">", NOISE_FACTOR),
        hs=small, hb=big,
        c=6 * n_small * d_final, d=d_final, ls=final[small], r=n_big / n_small, de=d_equal, lb=big_at_equal, k=lead)
    sec = {h: r["sec_per_step"] for h, r in runs.items()}
    ctx.log("Measured training time per step: {t} s (hidden {h}). The largest model has {r:.1f}x the parameters of "
            "the smallest but took {q:.1f}x the time per step: at this size a CPU step is not proportional to 6 N, so "
            "equal wall-clock time is not equal FLOPs. Scaling laws count FLOPs.",
            "实测每步训练时间:{t} 秒(hidden {h})。最大的模型参数是最小的 {r:.1f} 倍,每步时间却只是 {q:.1f} 倍:"
            "在这么小的规模下,CPU 上一步的耗时并不与 6 N 成正比,所以相同的墙钟时间并不等于相同的 FLOPs。"
            "scaling law 数的是 FLOPs。",
            t=" / ".join(f"{sec[h]:.3f}" for h in sizes), h=" / ".join(map(str, sizes)), r=n_big / n_small,
            q=sec[big] / sec[small])
    cross = [p["tokens"] for p, q in zip(runs[small]["points"], runs[big]["points"], strict=True)
             if p["val_loss"] < q["val_loss"]]
    ctx.metric("small_ahead_at_tokens", cross)
    ctx.log("Crossing in tokens: {c}.", "按 token 数看的交叉:{c_zh}。",
            c=(f"the smallest model was ahead at {', '.join(f'{t:,}' for t in cross)} tokens" if cross else
               "none; at every measured token count the largest model was ahead"),
            c_zh=(f"最小的模型在 {', '.join(f'{t:,}' for t in cross)} 个 token 处领先" if cross else
                  "没有;在每个测量点上,最大的模型都领先"))


def plot(ctx: ExperimentContext, runs: dict, noise_runs: list[dict], sizes: list[int]) -> None:
    plt = ctx.plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    fig, (a, b, c) = plt.subplots(1, 3, figsize=(15, 4.3))
    for h, r in runs.items():
        tokens = [p["tokens"] for p in r["points"]]
        losses = [p["val_loss"] for p in r["points"]]
        a.plot(tokens, losses, "o-", label=f"hidden {h} ({r['params'] / 1e6:.2f}M params)")
        c.plot([6 * r["params"] * t for t in tokens], losses, "o-", label=f"hidden {h}")
    for noise_run in noise_runs:
        a.plot([p["tokens"] for p in noise_run["points"]], [p["val_loss"] for p in noise_run["points"]], "x:",
               color="grey", label=f"hidden {noise_run['hidden']}, seed {noise_run['seed']}")
    for ax in (a, c):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ScalarFormatter())  # plain numbers on the log axis, not 6 x 10^0
        ax.yaxis.set_minor_formatter(ScalarFormatter())
        ax.set_ylabel("held-out loss, nats per token")
        ax.legend(fontsize=8)
    a.set_xlabel("tokens seen D")
    a.set_title("Loss vs tokens (log-log)")
    c.set_xlabel("estimated training compute 6 N D (FLOPs)")
    c.set_title("Loss vs compute: the frontier")
    params = [runs[h]["params"] for h in sizes]
    b.plot(params, [runs[h]["points"][-1]["val_loss"] for h in sizes], "o-", label=f"seed {runs[sizes[0]]['seed']}")
    b.plot([r["params"] for r in noise_runs], [r["points"][-1]["val_loss"] for r in noise_runs], "x", color="grey",
           ms=9, label="seeds " + ", ".join(str(r["seed"]) for r in noise_runs))
    b.set_xscale("log")
    b.xaxis.set_minor_formatter(NullFormatter())  # label the sizes themselves, not every log tick
    b.set_xticks(params, [f"{p / 1e6:.2f}M" for p in params])
    b.set_xlabel("parameters N (log scale)")
    b.set_ylabel("held-out loss at the last token count")
    b.set_title(f"Loss vs size at {runs[sizes[0]]['points'][-1]['tokens']:,} tokens")
    b.legend(fontsize=8)
    ctx.savefig(fig, "scaling.png")


if __name__ == "__main__":
    main(__file__)
