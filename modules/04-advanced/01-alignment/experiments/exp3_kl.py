"""Alignment exp3: what the KL term in GRPO does, measured.

The same SFT base and GRPO setup as exp2 (addition world, 4 RL prompts x 8 samples per step),
trained three times from the same start with only `kl_beta` changed: 0 (no KL term), 0.04 (this
project's default) and 1.0 (a strong leash). After the same number of steps we measure, on the held-out
sums:

- KL(policy || reference): for replies the policy samples itself, the exact KL between the two models'
  next-token distributions at every reply position, summed over the reply (nats per reply);
- the accuracy of sampled replies (what the reward pays for);
- the held-out SFT loss: mean next-token loss of correct conversations answered in the two styles that
  restate the sum (the ones the reward favours, so a rise is damage rather than the intended shift);
- the share of replies that still end with <|im_end|>.

The learning rate, 2e-3, is twice exp2's and far above the CLI default (5e-6): it is chosen so that the
drift shows within a few dozen steps on a CPU. The question is what the KL term does when the steps are
big enough to do damage.
"""

from __future__ import annotations

import random
from statistics import mean, stdev

import torch
import torch.nn.functional as F

from minimind_notes.data import phrasing
from minimind_notes.data.chat_cache import SFTDataset
from minimind_notes.data.datasets import IGNORE
from minimind_notes.data.jsonl import write_jsonl
from minimind_notes.lab.alignment import (
    AdditionLab,
    accuracy,
    addition_lab,
    binomial_se,
    conversation,
    grpo_trainer,
    policy_kl,
)
from minimind_notes.lab.experiment import Bar, ExperimentContext, main

LR = 2e-3
BETAS = (0.0, 0.04, 1.0)


def held_out_conversations(lab: AdditionLab, seed: int, tok) -> tuple[torch.Tensor, torch.Tensor]:
    """Correct conversations about the held-out sums, every phrasing, answered in one of the two styles that
    restate the sum: the styles the reward favours, so a rising loss on them is damage, not the style shift."""
    rng = random.Random(seed + 1)
    rows = [conversation(q, phrasing.reply(s, False, rng.randrange(2))) for s in lab.held_sums
            for q in phrasing.questions(s, zh=False)]
    data = SFTDataset(write_jsonl(lab.out_dir / "held_sft.jsonl", rows), tok, 64)
    return data.batch(list(range(len(data))))


@torch.no_grad()
def conversation_losses(model: torch.nn.Module, ids: torch.Tensor, labels: torch.Tensor) -> list[float]:
    """Mean next-token loss on each conversation's reply tokens (the tokens SFT learns from)."""
    was_training = model.training
    model.eval()
    logits, target = model(ids).logits[:, :-1].float(), labels[:, 1:]
    loss = F.cross_entropy(logits.transpose(1, 2), target, ignore_index=IGNORE, reduction="none")  # (B, T-1)
    counted = target != IGNORE
    model.train(was_training)
    return ((loss * counted).sum(1) / counted.sum(1)).tolist()


def measure(trainer, lab: AdditionLab, convs: tuple, samples: int, at_start: bool = False) -> dict:
    """KL from the reference, accuracy, held-out SFT loss (per conversation) and stop rate of the policy."""
    model, tok = trainer.model, trainer.tok
    drawn = accuracy(model, tok, lab.held_rows, samples=samples, temperature=1.0, seed=99)
    acc, n, replies = drawn.share, len(drawn.replies), drawn.replies
    # At the start the policy is a copy of the reference: every per-position KL is exactly 0.
    kl = [0.0] * len(replies) if at_start else policy_kl(model, trainer.objective.reference, replies)
    losses = conversation_losses(model, *convs)
    return {"kl": mean(kl), "kl_se": stdev(kl) / len(kl) ** 0.5, "accuracy": acc, "n": n,
            "sft_loss": mean(losses), "sft_losses": losses, "stopped": sum(r.stopped for r in replies) / len(replies)}


def paired_rise(after: list[float], before: list[float]) -> tuple[float, float]:
    """Mean rise of a per-conversation loss and its standard error (the same conversations before and after)."""
    diffs = [x - y for x, y in zip(after, before, strict=True)]
    return mean(diffs), stdev(diffs) / len(diffs) ** 0.5


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest and steady on a busy CPU
    sft_steps, steps, samples = (300, 30, 4) if ctx.quick else (400, 80, 8)
    ctx.log("One SFT base ({s} steps), then GRPO for {g} steps at lr {lr} with kl_beta = {b}.",
            "同一个 SFT 基座({s} 步),然后分别用 kl_beta = {b} 跑 {g} 步 GRPO,学习率 {lr}。",
            s=sft_steps, g=steps, lr=LR, b=", ".join(map(str, BETAS)))
    lab = addition_lab(ctx.out_dir / "lab", ctx.seed, sft_steps, ctx.precision)
    results, traces = {}, {}
    for beta in BETAS:
        trainer = grpo_trainer(lab, steps, LR, beta, ctx.seed)
        convs = held_out_conversations(lab, ctx.seed, trainer.tok)
        if not results:
            results["base"] = measure(trainer, lab, convs, samples, at_start=True)
        logs = [trainer.train_step() for _ in range(steps)]
        traces[beta] = {"reward": [x["reward"] for x in logs], "kl": [x["kl"] for x in logs]}
        results[beta] = measure(trainer, lab, convs, samples)
    ctx.metric("results", {str(k): v for k, v in results.items()})
    ctx.metric("traces", {str(k): v for k, v in traces.items()})
    report(ctx, results, traces, steps)
    plot(ctx, results, traces)


def report(ctx: ExperimentContext, results: dict, traces: dict, steps: int) -> None:
    rows = []
    for key, r in results.items():
        late = traces[key]["reward"][-10:] if key in traces else []
        rows.append(["SFT base" if key == "base" else f"beta {key}", r["kl"], r["kl_se"], r["accuracy"],
                     binomial_se(r["accuracy"], r["n"]), sum(late) / len(late) if late else float("nan"),
                     r["sft_loss"], r["stopped"]])
    ctx.table({"en": f"After {steps} GRPO steps, on the held-out sums",
               "zh": f"GRPO {steps} 步之后,在留出加法题上"},
              ["policy", "KL to reference (nats/reply)", "± SE", "sampled accuracy", "± SE",
               "group reward, last 10 steps", "held-out SFT loss", "ends with <|im_end|>"], rows)
    base, off, weak, strong = results["base"], results[0.0], results[0.04], results[1.0]
    ratio = off["kl"] / max(strong["kl"], 1e-9)
    # How far the KL without the term stands above twice the KL with beta 1.0, in standard errors of that difference
    clear = (off["kl"] - 2 * strong["kl"]) / (off["kl_se"] ** 2 + 4 * strong["kl_se"] ** 2) ** 0.5
    ctx.metric("kl_by_beta", [results[beta]["kl"] for beta in BETAS])
    ctx.finding(
        "Without the KL term the policy ends {a:.2f} nats per reply from the SFT model; with beta 1.0, {b:.2f}: "
        "{r:.1f}x closer. The first exceeds twice the second by {z:.1f} standard errors, so the ratio is no "
        "accident of sampling",
        "没有 KL 项时,策略最后离 SFT 模型 {a:.2f} nats/回复;beta 为 1.0 时是 {b:.2f}:近了 {r:.1f} 倍。"
        "前者比后者的 2 倍还高出 {z:.1f} 个标准误差,所以这个倍数不是采样造成的偶然",
        [Bar({"en": "KL without the term / with beta 1.0", "zh": "无 KL 项的 KL / beta 1.0 时的 KL"}, ratio, ">", 2),
         Bar({"en": "standard errors above 2x", "zh": "高出 2 倍的标准误差数"}, clear, ">", 3)], a=off["kl"],
        b=strong["kl"], r=ratio, z=clear)
    rise = {key: paired_rise(results[key]["sft_losses"], base["sft_losses"]) for key in BETAS}
    ctx.metric("sft_loss_rise", {str(k): v for k, v in rise.items()})
    (a, sa), (b, sb) = rise[0.0], rise[1.0]
    ctx.metric("rise_by_beta", [rise[beta][0] for beta in BETAS])
    ctx.finding(
        "What the drift costs varies from run to run; the strong leash keeps what SFT taught. The loss on correct "
        "held-out conversations in the styles the reward favours rose by {a:+.3f} ± {sa:.3f} without the KL term "
        "and by {b:+.3f} ± {sb:.3f} with beta 1.0, from {c:.3f} (paired standard errors over {n} conversations; "
        "set the rise without the term against its standard error before calling it damage)",
        "漂移的代价每次运行都不一样;绳子拉得紧时,SFT 学到的东西能保住。奖励偏爱的那两种风格的正确留出对话上的 "
        "loss,无 KL 项时上升 {a:+.3f} ± {sa:.3f},beta 为 1.0 时上升 {b:+.3f} ± {sb:.3f},起点 {c:.3f}"
        "({n} 条对话的配对标准误差;无 KL 项时的升幅要和它的标准误差比一比,"
        "才能说是损害)",
        Bar({"en": "rise with beta 1.0 (nats)", "zh": "beta 1.0 时的升幅(nats)"}, b, "<", 0.15),
        a=a, sa=sa, b=b, sb=sb, c=base["sft_loss"], n=len(base["sft_losses"]))
    ctx.finding(
        "At this learning rate the default beta 0.04 is a loose leash: its policy ends {r:.1f}x further from the SFT "
        "model than with beta 1.0 (KL {w:.2f} vs {s:.2f}; {a:.2f} without the term). The penalty's "
        "pull grows with the distance, so beta sets how far the policy gets before the pull matches the reward's "
        "push; how much of the no-KL drift a weak leash removes varies from run to run",
        "在这个学习率下,默认的 beta 0.04 是一根很松的绳子:它的策略最后离 SFT 模型的距离是 beta 1.0 时的 {r:.1f} 倍"
        "(KL {w:.2f} 对 {s:.2f};无 KL 项时 {a:.2f})。惩罚的拉力随距离变大,所以 beta 决定了策略"
        "走多远时拉力才抵得上奖励的推力;一根松绳子能消掉多少无 KL 时的漂移,每次运行都不一样",
        Bar({"en": "KL with beta 0.04 / with beta 1.0", "zh": "beta 0.04 时的 KL / beta 1.0 时的 KL"},
            weak["kl"] / max(strong["kl"], 1e-9), ">", 2),
        r=weak["kl"] / max(strong["kl"], 1e-9), w=weak["kl"], s=strong["kl"], a=off["kl"])


def plot(ctx: ExperimentContext, results: dict, traces: dict) -> None:
    plt = ctx.plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for beta in BETAS:
        kl = traces[beta]["kl"]
        window = [sum(kl[max(0, i - 4):i + 1]) / len(kl[max(0, i - 4):i + 1]) for i in range(len(kl))]
        left.plot(range(1, len(kl) + 1), window, label=f"beta {beta}")
    left.set_xlabel("GRPO step")
    left.set_ylabel("KL to reference per token on RL samples\n(objective's k3 estimate, mean of 5 steps)")
    left.legend()
    labels = [f"beta {b}\nsampled acc {results[b]['accuracy']:.2f}" for b in BETAS]
    right.bar(labels, [results[b]["kl"] for b in BETAS], yerr=[results[b]["kl_se"] for b in BETAS], capsize=4)
    right.set_ylabel("KL(policy || reference), nats per reply\n(held-out sums, exact per position)")
    fig.suptitle("GRPO with and without the KL term: distance from the SFT model")
    ctx.savefig(fig, "kl_leash.png")


if __name__ == "__main__":
    main(__file__)
