"""SFT-LoRA exp2: LoRA's parameter count, a rank sweep, and LoRA against full fine-tuning.

(a) Parameter count: `apply_lora` wraps every q/k/v/o and gate/up/down projection of a model. For each
    wrapped Linear the adapter's size, counted from the model, is compared with the formula
    r x (d_in + d_out), for the lab model at each rank and for MiniMind2-small at r = 8.
(b) A lab-scale base: a short pretrain and SFT with the project's trainer (`run_stage`).
(c) A rank sweep on the identity set (`data/lora_identity.jsonl`, held out: `lora_identity_val.jsonl`):
    `run_stage("lora", from_weight=<the SFT base>, lora_rank=r)` for several ranks, alpha = 2r as in
    this project's default (16 at r = 8), the same steps and learning rate. Held-out loss per rank.
(d) Full fine-tuning on the same set for the same number of steps (`run_stage("sft", data_path=<identity
    set>)`): held-out loss, trainable parameters, seconds per step and checkpoint size on disk, and what
    each run did to the general SFT val loss (forgetting).
(e) Merging: `merge_lora` folds B A into W; the merged model must give the same logits with no adapters.
(f) The greedy reply to "Who are you?" / "你是谁?" before and after.
(g) Forgetting at matched quality: LoRA learns the identity set more slowly than full fine-tuning at their
    usual learning rates, so comparing their forgetting after the same steps compares runs that learned
    different amounts. LoRA (r = the compared rank) and full fine-tuning each run at several learning rates;
    each method's forgetting is interpolated at the same held-out identity loss, inside the range both reach.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from minimind_notes.content import data_dir
from minimind_notes.data.chat_cache import SFTDataset
from minimind_notes.data.tokenizer import MiniMindTokenizer
from minimind_notes.evaluate import lm_metrics
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.lab.stage import StageRun, run_stage
from minimind_notes.model import MiniMindForCausalLM, SamplingConfig, generate, merge_lora, preset
from minimind_notes.model.lora import DEFAULT_TARGETS, LoRALinear, apply_lora

SEQ = 128
QUESTIONS = ["Who are you?", "你是谁?"]


def settings(quick: bool) -> dict:
    """Short runs: a short warm-up and higher learning rates than the stage defaults (tuned for minutes)."""
    if quick:
        return {"pretrain": dict(max_steps=30, batch_size=8, max_seq_len=64, learning_rate=5e-3, warmup_steps=5),
                "sft": dict(max_steps=40, batch_size=4, learning_rate=2e-3, warmup_steps=5),
                "tune": dict(max_steps=30, batch_size=4, warmup_steps=5), "ranks": [1, 4, 16], "compare": 16,
                "lora_lr": 1e-2, "full_lr": 1e-3, "lora_lrs": [3e-3, 3e-2], "full_lrs": [3e-5, 1e-4, 3e-4]}
    return {"pretrain": dict(max_steps=300, batch_size=8, max_seq_len=SEQ, learning_rate=3e-3, warmup_steps=20),
            "sft": dict(max_steps=200, batch_size=8, learning_rate=1e-3, warmup_steps=10),
            "tune": dict(max_steps=100, batch_size=8, warmup_steps=10), "ranks": [1, 4, 8, 16], "compare": 8,
            "lora_lr": 1e-2, "full_lr": 1e-3, "lora_lrs": [3e-3, 3e-2], "full_lrs": [3e-5, 1e-4, 3e-4]}


# -- (a) parameter count ------------------------------------------------------------------------------
def adapter_counts(model: nn.Module, rank: int) -> list[dict]:
    """Per adapted Linear: its shape, the adapter's parameters counted from the model, and r (d_in + d_out)."""
    apply_lora(model, rank=rank, alpha=2.0 * rank)
    rows = []
    for name, module in model.named_modules():
        if isinstance(module, LoRALinear):
            counted = module.lora_A.numel() + module.lora_B.numel()
            rows.append({"name": name, "d_in": module.in_features, "d_out": module.out_features,
                         "counted": counted, "formula": rank * (module.in_features + module.out_features)})
    return rows


def count_table(make: Callable[[], nn.Module], ranks: list[int]) -> dict:
    """For each rank: the adapters' total, whether every layer matches the formula, and the share of the model."""
    out = {}
    for r in ranks:
        model = make()  # a fresh model per rank: apply_lora wraps the Linears in place
        total = sum(p.numel() for p in model.parameters())
        rows = adapter_counts(model, r)
        adapters = sum(row["counted"] for row in rows)
        out[r] = {"model": total, "adapters": adapters, "share": adapters / total, "layers": len(rows),
                  "match": all(row["counted"] == row["formula"] for row in rows),
                  "per_type": {row["name"].rsplit(".", 1)[-1]: [row["d_in"], row["d_out"], row["counted"]]
                               for row in rows}}
    return out


# -- (c), (d) the runs -------------------------------------------------------------------------------------
def identity_paths() -> dict:
    return {"data_path": str(data_dir() / "lora_identity.jsonl"),
            "val_path": str(data_dir() / "lora_identity_val.jsonl")}


def tune_lora(out: Path, base: Path, rank: int, s: dict, seed: int, precision: str, lr: float | None = None
              ) -> StageRun:
    lr = lr or s["lora_lr"]
    return run_stage("lora", out / f"lora_r{rank}_lr{lr:g}", from_weight=str(base), lora_rank=rank,
                     lora_alpha=2.0 * rank, learning_rate=lr, seed=seed, precision=precision, **s["tune"])


def tune_full(out: Path, base: Path, s: dict, seed: int, precision: str, lr: float | None = None) -> StageRun:
    """Full fine-tuning is the SFT stage (every weight trains) run on the identity set."""
    lr = lr or s["full_lr"]
    return run_stage("sft", out / f"full_ft_lr{lr:g}", from_weight=str(base), learning_rate=lr, seed=seed,
                     precision=precision, **identity_paths(), **s["tune"])


def at_loss(points: list[tuple[float, float]], target: float) -> float:
    """Forgetting at held-out identity loss `target`, linear between the two runs (identity loss, forgetting)
    whose losses bracket it: the runs of one method at its several learning rates."""
    points = sorted(points)
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        if x0 <= target <= x1:
            return y0 + (y1 - y0) * (target - x0) / (x1 - x0) if x1 > x0 else y0
    raise ValueError(f"identity loss {target} outside {points[0][0]}..{points[-1][0]}")


def matched_forgetting(sweeps: dict[str, list[tuple[float, float]]]) -> dict:
    """Each method's forgetting at the same identity losses: the overlap of what both reached, at its two ends
    and middle (the middle is the one compared)."""
    low = max(min(x for x, _ in pts) for pts in sweeps.values())
    high = min(max(x for x, _ in pts) for pts in sweeps.values())
    if low > high:
        return {"overlap": False, "low": low, "high": high}
    targets = [low, (low + high) / 2, high]
    return {"overlap": True, "low": low, "high": high, "targets": targets,
            **{name: [at_loss(pts, t) for t in targets] for name, pts in sweeps.items()}}


def chat_loss(model: nn.Module, val: SFTDataset, tok: MiniMindTokenizer, rows: int = 32) -> float:
    """Held-out loss on the assistant tokens of the general SFT val set: what fine-tuning may cost."""
    ids, labels = val.batch(range(min(rows, len(val))))
    return lm_metrics(model, ids, labels, tok, 8, torch.device("cpu"))["val_loss"]


@torch.no_grad()
def replies(model: nn.Module, tok: MiniMindTokenizer, questions: list[str], new_tokens: int = 32) -> list[str]:
    model.eval()
    cfg = SamplingConfig(max_new_tokens=new_tokens, temperature=0, eos_token_id=tok.eos_token_id)
    out = []
    for q in questions:
        ids = tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True, tokenize=True)
        row = generate(model, torch.tensor([ids]), cfg=cfg)[0, len(ids):].tolist()
        out.append(tok.decode(row[:row.index(tok.eos_token_id)] if tok.eos_token_id in row else row))
    return out


@torch.no_grad()
def merge_check(model: nn.Module, val: SFTDataset) -> dict:
    """Logits with the adapters attached vs after merge_lora: the same function, no extra parameters."""
    ids, _ = val.batch(range(8))
    before = model(ids).logits
    params_before = sum(p.numel() for p in model.parameters())
    merge_lora(model)
    after = model(ids).logits
    return {"max_diff": float((before - after).abs().max()), "params_adapted": params_before,
            "params_merged": sum(p.numel() for p in model.parameters()),
            "lora_layers_left": sum(isinstance(m, LoRALinear) for m in model.modules())}


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # small matrices: one thread is fastest and steady on a busy CPU
    s = settings(ctx.quick)
    lab = preset("tiny", hidden_size=128, num_hidden_layers=2, intermediate_size=None)  # = the lab trainer's
    counts = {"lab": count_table(lambda: MiniMindForCausalLM(lab), s["ranks"]),
              "minimind2-small": count_table(lambda: MiniMindForCausalLM(preset("minimind2-small")), [8])}
    ctx.metric("param_counts", counts)
    show_counts(ctx, counts)

    out = ctx.out_dir / "checkpoints"
    run_stage("pretrain", out, seed=ctx.seed, precision=ctx.precision, **s["pretrain"])
    base_run = run_stage("sft", out, from_weight="pretrain", seed=ctx.seed, precision=ctx.precision, **s["sft"])
    base = Path(base_run.summary.weights)
    tok = base_run.tokenizer
    sft_val = SFTDataset(data_dir() / "sft_val.jsonl", tok, SEQ)
    id_val = SFTDataset(data_dir() / "lora_identity_val.jsonl", tok, SEQ)
    before = {"chat_loss": chat_loss(base_run.model, sft_val, tok), "replies": replies(base_run.model, tok, QUESTIONS)}

    runs = {r: tune_lora(out, base, r, s, ctx.seed, ctx.precision) for r in s["ranks"]}
    runs["full"] = tune_full(out, base, s, ctx.seed, ctx.precision)
    results = {k: summarize(v, sft_val, tok) for k, v in runs.items()}
    sweep = sweep_lrs(out, base, s, ctx, sft_val, tok, results, before["chat_loss"])
    merged = merge_check(runs[s["compare"]].model, id_val)
    ctx.metric("runs", {str(k): v for k, v in results.items()})
    ctx.metric("before", before)
    ctx.metric("merge", merged)
    show_runs(ctx, results, before, s)
    findings(ctx, counts, results, before, merged, s)
    matched_finding(ctx, sweep, s)
    plot(ctx, runs, results, s)
    plot_sweep(ctx, sweep, s)


def sweep_lrs(out: Path, base: Path, s: dict, ctx: ExperimentContext, sft_val: SFTDataset,
              tok: MiniMindTokenizer, results: dict, base_chat: float) -> dict:
    """(g) LoRA at the compared rank and full fine-tuning at several learning rates (the runs above included):
    per run (lr, held-out identity loss, forgetting), and each method's forgetting at matched identity loss."""
    r = s["compare"]
    lora = {s["lora_lr"]: results[r]} | {lr: summarize(tune_lora(out, base, r, s, ctx.seed, ctx.precision, lr),
                                                       sft_val, tok) for lr in s["lora_lrs"]}
    full = {s["full_lr"]: results["full"]} | {lr: summarize(tune_full(out, base, s, ctx.seed, ctx.precision, lr),
                                                            sft_val, tok) for lr in s["full_lrs"]}
    runs = {name: sorted((lr, v["val_after"], v["chat_loss"] - base_chat) for lr, v in by_lr.items())
            for name, by_lr in (("lora", lora), ("full", full))}
    matched = matched_forgetting({name: [(loss, cost) for _, loss, cost in pts] for name, pts in runs.items()})
    return ctx.metric("matched", {"runs": runs, **matched})


def matched_finding(ctx: ExperimentContext, sweep: dict, s: dict) -> None:
    lora, full = sweep["runs"]["lora"], sweep["runs"]["full"]
    ctx.table({"en": f"(g) Learning rate sweeps, {s['tune']['max_steps']} steps each: held-out identity loss and "
                     "the rise of the general SFT val loss (forgetting)",
               "zh": f"(g) 学习率扫描,每次 {s['tune']['max_steps']} 步:身份验证集损失,以及通用 SFT 验证损失的上升"
                     "(遗忘)"},
              ["run", "learning rate", "identity val after", "forgetting (nats)"],
              [[f"LoRA r={s['compare']}", lr, loss, cost] for lr, loss, cost in lora]
              + [["full fine-tuning", lr, loss, cost] for lr, loss, cost in full])
    if not sweep["overlap"]:  # a log line, not a finding: this branch is taken only when the ranges do not meet
        ctx.log(
            "LoRA and full fine-tuning never reached the same held-out identity loss at the learning rates tried "
            "(LoRA's best {h:.2f}, full fine-tuning's worst {l:.2f}), so their forgetting cannot be compared at "
            "matched quality",
            "在所试的学习率下,LoRA 与全量微调从未达到相同的身份验证损失(LoRA 最好 {h:.2f},全量微调最差 {l:.2f}),"
            "所以无法在同等效果下比较遗忘", h=sweep["high"], l=sweep["low"])
        return
    mid = 1  # the middle of the overlap: the comparison; its ends are shown for how much it moves
    target, f_lora, f_full = sweep["targets"][mid], sweep["lora"][mid], sweep["full"][mid]
    ctx.metric("forgetting_at_matched_loss_lora", f_lora)  # flat keys: the numbers the teaching text quotes
    ctx.metric("forgetting_at_matched_loss_full", f_full)
    ctx.finding(
        "At matched quality LoRA does not forget less here: at the same held-out identity loss ({t:.2f}, the "
        "middle of the range both reach, {lo:.2f}-{hi:.2f}, each method swept over {nl} / {nf} learning rates), "
        "LoRA r = {r} raises the general SFT val loss by {fl:+.3f} nats and full fine-tuning by {ff:+.3f} (at the "
        "range's ends: LoRA {el}, full {ef}). Biderman et al.'s \"forgets less\" was measured on 7B models; on "
        "this lab base, freezing the weights alone did not protect general chat",
        "在同等效果下,LoRA 在这里并没有忘得更少:在相同的身份验证损失下({t:.2f},取两者都能达到的范围 "
        "{lo:.2f}-{hi:.2f} 的中点;两种方法分别扫描了 {nl} / {nf} 个学习率),LoRA r = {r} 让通用 SFT 验证损失上升 "
        "{fl:+.3f} nats,全量微调上升 {ff:+.3f}(范围两端:LoRA {el},全量 {ef})。Biderman 等人的“忘得更少”是在 7B "
        "模型上测得的;在这个 lab 基座上,单靠冻结权重并没有保住通用对话能力",
        Bar({"en": "LoRA's forgetting minus full fine-tuning's (nats)", "zh": "LoRA 的遗忘减去全量微调的遗忘(nats)"},
            f_lora - f_full, ">", 0.1),
        t=target, lo=sweep["low"], hi=sweep["high"], r=s["compare"], fl=f_lora, ff=f_full,
        nl=len(lora), nf=len(full), el=" / ".join(f"{v:+.3f}" for v in sweep["lora"][::2]),
        ef=" / ".join(f"{v:+.3f}" for v in sweep["full"][::2]))


def summarize(stage: StageRun, sft_val: SFTDataset, tok: MiniMindTokenizer) -> dict:
    summary = stage.summary
    return {"trainable": summary.trainable_params, "params": summary.params,
            "val_before": summary.first_eval["val_loss"], "val_after": summary.final_eval["val_loss"],
            "s_per_step": summary.seconds / summary.steps, "file_bytes": os.path.getsize(summary.weights),
            "chat_loss": chat_loss(stage.model, sft_val, tok), "replies": replies(stage.model, tok, QUESTIONS)}


def show_counts(ctx: ExperimentContext, counts: dict) -> None:
    rows = []
    for model_name, by_rank in counts.items():
        for r, c in by_rank.items():
            rows.append([model_name, r, c["layers"], c["adapters"], c["model"], c["share"],
                         "yes" if c["match"] else "NO"])
    ctx.table({"en": "(a) LoRA adapters on q/k/v/o and gate/up/down: parameters counted from the model",
               "zh": "(a) 在 q/k/v/o 和 gate/up/down 上加 LoRA:从模型中数出的参数量"},
              ["model", "rank r", "adapted Linears", "adapter parameters", "model parameters", "share",
               "every layer = r (d_in + d_out)"], rows)
    small = counts["minimind2-small"][8]["per_type"]
    ctx.table({"en": "(a) MiniMind2-small at r = 8, per layer: one adapter per projection",
               "zh": "(a) MiniMind2-small,r = 8,每层:每个投影一个 adapter"},
              ["projection", "d_in", "d_out", "W parameters", "adapter parameters = 8 (d_in + d_out)"],
              [[t, small[t][0], small[t][1], small[t][0] * small[t][1], small[t][2]] for t in DEFAULT_TARGETS])


def show_runs(ctx: ExperimentContext, results: dict, before: dict, s: dict) -> None:
    rows = []
    for k, v in results.items():
        rows.append([f"LoRA r={k}" if k != "full" else "full fine-tuning", v["trainable"], v["trainable"] / v["params"],
                     v["val_before"], v["val_after"], v["chat_loss"], v["s_per_step"], v["file_bytes"] / 1024])
    steps = s["tune"]["max_steps"]
    ctx.table({"en": f"(c), (d) {steps} steps on the identity set from the same SFT base (LoRA lr {s['lora_lr']}, "
                     f"full lr {s['full_lr']}); general SFT val loss of the base: {before['chat_loss']:.3f}",
               "zh": f"(c)、(d) 从同一个 SFT 基座出发,在身份数据集上训练 {steps} 步(LoRA 学习率 {s['lora_lr']},"
                     f"全量微调学习率 {s['full_lr']});基座在通用 SFT 验证集上的损失:{before['chat_loss']:.3f}"},
              ["run", "trainable", "share", "identity val before", "identity val after", "general SFT val after",
               "s / step", "checkpoint KiB"], rows)
    ctx.table({"en": "(f) Greedy replies", "zh": "(f) 贪心生成的回复"},
              ["model", *QUESTIONS],
              [["SFT base", *before["replies"]]]
              + [[f"LoRA r={k}" if k != "full" else "full fine-tuning", *v["replies"]] for k, v in results.items()])


def findings(ctx: ExperimentContext, counts: dict, results: dict, before: dict, merged: dict, s: dict) -> None:
    small = counts["minimind2-small"][8]
    lab_max = max(c["share"] for c in counts["lab"].values())
    ctx.code_fact(
        "The adapters are exactly r (d_in + d_out) per adapted Linear, in all {n} layers checked; at r = 8 "
        "MiniMind2-small gets {a:,} trainable parameters, {sh:.2%} of its {m:,}; the largest lab rank trains "
        "{lm:.2%} of the lab model (counted from the model: a property of the code; every layer matches, "
        "MiniMind2-small r = 8 < 5%)",
        "每个加了 LoRA 的 Linear,adapter 的参数量都恰好是 r (d_in + d_out),{n} 个层全部吻合;r = 8 时 "
        "MiniMind2-small 有 {a:,} 个可训练参数,占全部 {m:,} 的 {sh:.2%};实验里最大的 rank 在 lab 模型上训练 "
        "{lm:.2%} 的参数(从模型中数出,属于代码的性质:每层都吻合,MiniMind2-small r = 8 < 5%)",
        all(c["match"] for by in counts.values() for c in by.values()) and small["share"] < 0.05,
        n=sum(c["layers"] for by in counts.values() for c in by.values()), a=small["adapters"], sh=small["share"],
        m=small["model"], lm=lab_max)
    ranks = s["ranks"]
    start = results["full"]["val_before"]
    same_start = all(abs(results[r]["val_before"] - start) < 1e-4 for r in ranks)
    ctx.code_fact(
        "B starts at zero, so every LoRA run starts from exactly the base: held-out identity loss at step 0 is "
        "{a:.4f} for every rank and for full fine-tuning (by construction: all within 1e-4)",
        "B 初始化为零,所以每个 LoRA 运行都从与基座完全相同的模型出发:第 0 步时身份验证集的损失,各个 rank 和全量"
        "微调都是 {a:.4f}(由构造决定:全部相差不超过 1e-4)",
        same_start, a=start)
    drops = {r: results[r]["val_before"] - results[r]["val_after"] for r in ranks}
    ctx.finding(
        "LoRA learns the identity set at every rank: in {n} steps the held-out loss falls by {d} for r = {rs}, "
        "training {t} parameters",
        "每个 rank 的 LoRA 都在学习身份数据:{n} 步内验证损失分别下降 {d}(r = {rs}),训练的参数分别只有 {t} 个",
        Bar({"en": "smallest fall (nats)", "zh": "最小的降幅(nats)"}, min(drops.values()), ">", 0.15),
        d=" / ".join(f"{drops[r]:.2f}" for r in ranks),
        rs=" / ".join(map(str, ranks)), n=s["tune"]["max_steps"],
        t=" / ".join(f"{results[r]['trainable']:,}" for r in ranks))
    lo, hi = ranks[0], ranks[-1]
    ctx.metric("lowest_rank_gain_share", drops[lo] / drops[hi])
    ctx.finding(
        "Rank buys less than its parameter count: r = {r1} trains 1/{x:.0f} of the parameters of r = {r2} and still "
        "gets {p:.0%} of its loss reduction ({a:.2f} vs {b:.2f})",
        "rank 带来的收益远不及它增加的参数量:r = {r1} 的参数只有 r = {r2} 的 1/{x:.0f},却拿到了后者 {p:.0%} 的损失"
        "降幅({a:.2f} 对 {b:.2f})",
        Bar({"en": f"r = {lo}'s reduction / r = {hi}'s", "zh": f"r = {lo} 的降幅 / r = {hi} 的"}, drops[lo] / drops[hi],
            ">=", 0.3), r1=lo, r2=hi, x=results[hi]["trainable"] / results[lo]["trainable"],
        p=drops[lo] / drops[hi], a=drops[lo], b=drops[hi])
    c, f = results[s["compare"]], results["full"]
    ctx.finding(
        "What LoRA saves: r = {r} trains {tl:,} parameters, {sh:.1%} of full fine-tuning's {tf:,}, and its "
        "checkpoint holds only the adapters: {kl:.0f} KiB vs {kf:.0f} KiB; a step took {sl:.3f} s vs {sf:.3f} s "
        "(the backward pass still runs through the whole frozen network)",
        "LoRA 省下了什么:r = {r} 训练 {tl:,} 个参数,是全量微调 {tf:,} 个的 {sh:.1%};检查点只存 adapter:{kl:.0f} "
        "KiB 对 {kf:.0f} KiB;每步耗时 {sl:.3f} 秒对 {sf:.3f} 秒(反向传播仍要穿过整个冻结的网络)",
        Bar({"en": "checkpoint / the full one's", "zh": "检查点 / 全量的检查点"}, c["file_bytes"] / f["file_bytes"],
            "<", 0.1), r=s["compare"], tl=c["trainable"], tf=f["trainable"],
        sh=c["trainable"] / f["trainable"], kl=c["file_bytes"] / 1024, kf=f["file_bytes"] / 1024,
        sl=c["s_per_step"], sf=f["s_per_step"])
    gain = (c["val_before"] - c["val_after"]) / (f["val_before"] - f["val_after"])
    ctx.finding(
        "What LoRA gives up here: after the same {n} steps full fine-tuning reaches {b:.3f} on the held-out identity "
        "set and LoRA r = {r} {a:.3f}, {g:.0%} of full fine-tuning's loss reduction",
        "LoRA 在这里放弃了什么:同样 {n} 步后,全量微调在身份验证集上达到 {b:.3f},LoRA r = {r} 为 {a:.3f},"
        "只拿到全量微调 {g:.0%} 的损失降幅",
        Bar({"en": "LoRA's loss minus full fine-tuning's", "zh": "LoRA 的损失减全量微调的"},
            c["val_after"] - f["val_after"], ">", 0), n=s["tune"]["max_steps"], b=f["val_after"], r=s["compare"],
        a=c["val_after"], g=gain)
    ctx.code_fact(
        "Merging folds B A into W: the merged model's logits differ from the adapted model's by at most {d:.1e}, "
        "and it has {m:,} parameters, the base's count, instead of {a:,} (W + B A is the same function by "
        "construction: < 1e-4, no LoRA layer left)",
        "合并把 B A 加进 W:合并后模型的 logits 与带 adapter 的模型最多相差 {d:.1e},参数量是 {m:,}(与基座相同),"
        "而不是 {a:,}(W + B A 由构造就是同一个函数:< 1e-4,不剩任何 LoRA 层)",
        merged["max_diff"] < 1e-4 and merged["lora_layers_left"] == 0 and merged["params_merged"] == f["params"],
        d=merged["max_diff"], m=merged["params_merged"], a=merged["params_adapted"])
    costs = {k: v["chat_loss"] - before["chat_loss"] for k, v in results.items()}
    worst = max(costs, key=costs.get)
    ctx.finding(
        "Learning the identity set costs general chat: the held-out loss on the general SFT val set (base {b:.3f}) "
        "rises by {d} for LoRA r = {rs} and by {f:+.3f} for full fine-tuning; the largest rise is {w}'s",
        "学习身份数据会损害通用对话能力:通用 SFT 验证集上的损失(基座 {b:.3f})在 LoRA r = {rs} 下分别上升 {d},"
        "全量微调上升 {f:+.3f};上升最多的是{w_zh}",
        Bar({"en": "smallest rise (nats)", "zh": "最小的上升(nats)"}, min(costs.values()), ">", 0.05),
        b=before["chat_loss"], d=" / ".join(f"{costs[r]:+.3f}" for r in ranks),
        rs=" / ".join(map(str, ranks)), f=costs["full"],
        w="full fine-tuning" if worst == "full" else f"LoRA r = {worst}",
        w_zh="全量微调" if worst == "full" else f" LoRA r = {worst}")
    ctx.metric("forgetting", {str(k): v for k, v in costs.items()})


def plot(ctx: ExperimentContext, runs: dict, results: dict, s: dict) -> None:
    plt = ctx.plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for k, stage in runs.items():
        steps, losses = zip(*stage.losses, strict=True)
        left.plot(steps, losses, "o-" if k != "full" else "k--", ms=3,
                  label=f"LoRA r={k}" if k != "full" else "full fine-tuning")
    left.set_xlabel("step")
    left.set_ylabel("training loss on the identity set")
    left.legend(fontsize=8)
    ranks = s["ranks"]
    right.plot([results[r]["trainable"] for r in ranks], [results[r]["val_after"] for r in ranks], "o-",
               label="LoRA (labels: rank)")
    for r in ranks:
        right.annotate(str(r), (results[r]["trainable"], results[r]["val_after"]), fontsize=8)
    right.plot([results["full"]["trainable"]], [results["full"]["val_after"]], "ks", label="full fine-tuning")
    right.axhline(results["full"]["val_before"], color="grey", ls=":", label="SFT base")
    right.set_xscale("log")
    right.set_xlabel("trainable parameters")
    right.set_ylabel("held-out identity loss after training")
    right.legend(fontsize=8)
    fig.suptitle("LoRA on the identity set: trainable parameters vs held-out loss")
    ctx.savefig(fig, "lora.png")


def plot_sweep(ctx: ExperimentContext, sweep: dict, s: dict) -> None:
    plt = ctx.plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, label, style in (("lora", f"LoRA r={s['compare']}", "o-"), ("full", "full fine-tuning", "ks--")):
        pts = sorted((loss, cost, lr) for lr, loss, cost in sweep["runs"][name])
        ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label)
        for loss, cost, lr in pts:
            ax.annotate(f"{lr:g}", (loss, cost), fontsize=7)
    if sweep["overlap"]:
        ax.axvspan(sweep["low"], sweep["high"], color="grey", alpha=0.15, label="identity loss both reach")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("held-out identity loss after tuning (labels: learning rate)")
    ax.set_ylabel("rise of the general SFT val loss (nats)")
    ax.legend(fontsize=8)
    ax.set_title("Forgetting at matched quality", fontsize=10)
    ctx.savefig(fig, "forgetting_matched.png")


if __name__ == "__main__":
    main(__file__)
