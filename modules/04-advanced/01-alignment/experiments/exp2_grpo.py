"""Alignment exp2: GRPO with a checkable reward, on sums the RL never saw.

The world: every a + b with a, b in 0..5, asked in the four English phrasings of the embedded RL data
("What is 3 + 4?", "Calculate 3 + 4.", ...). Half of the 36 sums are RL prompts; the other half are
held out: no phrasing of them is ever trained on by GRPO.

The SFT base is trained from scratch through the real Trainer on conversations answered in the
three reply styles of the embedded data: half 'The answer is 7.', the rest '3 + 4 = 7.' or
'3 plus 4 is 7.'. One thing is planted: 80% of the result-only replies ('The answer is N.') state a
near miss, as if written by a careless annotator; the styles that restate the sum are always right.
SFT imitates all of it.

GRPO (GRPOObjective, the one `minimind train grpo` runs) then samples 8 replies per RL prompt,
rewards the ones whose last number is the sum, and pushes up the replies that beat their group's
average. Every few steps we measure, on the held-out sums: the accuracy of sampled replies
(temperature 1, the way GRPO samples; 16 per prompt) with its binomial standard error, greedy
accuracy, which reply style the model picks and how often each style is right, and how likely a
group of 8 of a prompt's replies is to carry no signal (all rewards equal).

A small tokenizer (the project's BPE trained on this text) keeps each GRPO step cheap; see
minimind_notes/lab/alignment.py.
"""

from __future__ import annotations

from math import comb
from statistics import stdev

import torch

from minimind_notes.lab.alignment import (
    AdditionLab,
    accuracy,
    addition_lab,
    binomial_se,
    grpo_trainer,
    reply_style,
)
from minimind_notes.lab.experiment import Bar, ExperimentContext, main

LR, BETA, GROUP = 1e-3, 0.04, 8
STYLES = ("restate", "result", "other")


def evaluate(model: torch.nn.Module, lab: AdditionLab, tok, samples: int) -> dict:
    """Held-out accuracy (sampled and greedy), style shares and per-style accuracy, zero-signal groups."""
    rows = lab.held_rows
    drawn, first = accuracy(model, tok, rows, samples=samples, temperature=1.0, seed=1234), accuracy(model, tok, rows)
    sampled, n, replies, rewards = drawn.share, len(drawn.replies), drawn.replies, drawn.rewards
    greedy, n_greedy = first.share, len(first.replies)
    styles = [reply_style(r.text) for r in replies]
    share = {s: styles.count(s) / len(styles) for s in STYLES}
    right = {s: (sum(w for w, t in zip(rewards, styles, strict=True) if t == s) / styles.count(s)
                 if styles.count(s) else 0.0) for s in STYLES}
    flat = [flat_chance(int(sum(rewards[i * samples:(i + 1) * samples])), samples) for i in range(len(rows))]
    return {"sampled": sampled, "n": n, "greedy": greedy, "n_greedy": n_greedy, "share": share,
            "right": right, "flat_groups": sum(flat) / len(flat), "flat_by_prompt": flat}


def flat_chance(right: int, n: int) -> float:
    """The chance that a GRPO group of GROUP replies, drawn from a prompt's n replies of which `right`
    were right, got all-equal rewards (zero advantage, so it teaches nothing): C(right, G) + C(n - right, G)
    over C(n, G). Averaged over every group the n replies hold, it estimates p^G + (1 - p)^G without
    bias, with less noise than one group per prompt."""
    return (comb(right, GROUP) + comb(n - right, GROUP)) / comb(n, GROUP)


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest and steady on a busy CPU
    sft_steps, steps, every, samples = (300, 30, 10, 16) if ctx.quick else (400, 60, 10, 16)
    ctx.log("SFT base: hidden 64, 2 layers, trained from scratch for {s} steps on addition conversations "
            "(result-only replies mostly near misses). GRPO: {g} steps, 4 prompts x {G} samples, lr {lr}, beta {b}.",
            "SFT 基座:hidden 64、2 层,从零在加法对话上训练 {s} 步(只报结果的回复大多差一点)。"
            "GRPO:{g} 步,每步 4 个 prompt x {G} 个采样,学习率 {lr},beta {b}。",
            s=sft_steps, g=steps, G=GROUP, lr=LR, b=BETA)
    lab = addition_lab(ctx.out_dir / "lab", ctx.seed, sft_steps, ctx.precision)
    trainer = grpo_trainer(lab, steps, LR, BETA, ctx.seed)
    tok = trainer.tok
    curve = {0: evaluate(trainer.model, lab, tok, samples)}
    rewards, kls = [], []
    for step in range(1, steps + 1):
        logs = trainer.train_step()
        rewards.append(logs["reward"])
        kls.append(logs["kl"])
        if step % every == 0:
            curve[step] = evaluate(trainer.model, lab, tok, samples)
    ctx.metric("curve", {str(k): v for k, v in curve.items()})
    ctx.metric("group_reward", rewards)
    ctx.metric("train_kl", kls)
    report(ctx, lab, curve, rewards, samples)
    plot(ctx, curve, rewards)


def report(ctx: ExperimentContext, lab: AdditionLab, curve: dict, rewards: list[float], samples: int) -> None:
    n_prompts = len(lab.held_rows)
    ctx.table({"en": f"Accuracy on the held-out sums ({n_prompts} prompts; {samples} samples each at temperature 1)",
               "zh": f"留出加法题上的准确率({n_prompts} 个 prompt;每个在温度 1 下采样 {samples} 次)"},
              ["GRPO step", "sampled", "± SE", "greedy", "± SE"],
              [[k, v["sampled"], binomial_se(v["sampled"], v["n"]), v["greedy"],
                binomial_se(v["greedy"], v["n_greedy"])] for k, v in curve.items()])
    ctx.table({"en": "Which reply style the sampled replies use, and how often each is right",
               "zh": "采样回复用的是哪种风格,各自的正确率"},
              ["GRPO step", "'The answer is N.'", "its accuracy", "restates the sum", "its accuracy",
               f"chance a group of {GROUP} is all equal"],
              [[k, v["share"]["result"], v["right"]["result"], v["share"]["restate"], v["right"]["restate"],
                v["flat_groups"]] for k, v in curve.items()])
    first, last = curve[0], curve[max(curve)]
    gain = last["sampled"] - first["sampled"]
    se = (binomial_se(first["sampled"], first["n"]) ** 2 + binomial_se(last["sampled"], last["n"]) ** 2) ** 0.5
    ctx.metric("sampled_gain", gain)
    for key in ("sampled", "flat_groups"):  # before and after, quoted by the text
        ctx.metric(key, [first[key], last[key]])
    ctx.metric("result_share", [first["share"]["result"], last["share"]["result"]])
    ctx.metric("sampled_gain_se", se)
    ctx.finding(
        "GRPO raised the accuracy of sampled replies on held-out sums (never trained on by RL) from {a:.3f} to "
        "{b:.3f}: +{g:.3f}, {z:.1f} standard errors ({n} replies each)",
        "GRPO 把留出加法题(RL 从没训练过)上采样回复的准确率从 {a:.3f} 提高到 {b:.3f}:+{g:.3f},"
        "是标准误差的 {z:.1f} 倍(各 {n} 条回复)",
        Bar({"en": "gain in standard errors", "zh": "提升是标准误差的倍数"}, gain / se, ">", 3),
        a=first["sampled"], b=last["sampled"], g=gain, z=gain / se, n=last["n"])
    # What would the accuracy be if only the style mix had changed and each style kept its old accuracy?
    shifted = sum(last["share"][s] * first["right"][s] for s in STYLES)
    explained = ctx.metric("explained", (shifted - first["sampled"]) / gain if gain > 0 else 0.0)
    ctx.finding(
        "How: the share of result-only replies ('The answer is N.', right {r:.2f} of the time in the base) fell "
        "from {s0:.2f} to {s1:.2f}, while replies that restate the sum were right {k0:.2f} -> {k1:.2f} of the time. "
        "The style shift alone, at the base's per-style accuracy, accounts for {e:.0%} of the gain: RL re-weighted "
        "a behaviour the base already had",
        "机制:只报结果的回复('The answer is N.',在基座里正确率 {r:.2f})所占比例从 {s0:.2f} 降到 {s1:.2f},"
        "而先复述算式的回复正确率是 {k0:.2f} -> {k1:.2f}。只考虑风格比例的变化、各风格保持基座的正确率,"
        "就能解释 {e:.0%} 的提升:RL 是在给基座已有的行为重新分配概率",
        [Bar({"en": "result-only share after / before", "zh": "只报结果的比例:之后 / 之前"},
             last["share"]["result"] / max(first["share"]["result"], 1e-9), "<=", 0.5),
         Bar({"en": "share of the gain explained", "zh": "被解释的提升比例"}, explained, ">=", 0.6)],
        r=first["right"]["result"], s0=first["share"]["result"], s1=last["share"]["result"],
        k0=first["right"]["restate"], k1=last["right"]["restate"], e=explained)
    k = min(10, len(rewards) // 3)
    ctx.log("Mean group reward on the RL prompts: {a:.3f} over the first {k} steps, {b:.3f} over the last {k}. Greedy "
            "accuracy on the held-out sums: {g0:.3f} -> {g1:.3f} (it can move either way: RL's updates on the RL sums "
            "also move the answers to the held-out ones).",
            "RL prompt 上的组平均奖励:前 {k} 步 {a:.3f},后 {k} 步 {b:.3f}。留出题上的贪心准确率:{g0:.3f} -> {g1:.3f}"
            "(它可能升也可能降:RL 在训练题上的更新也会挪动留出题的答案)。",
            a=sum(rewards[:k]) / k, b=sum(rewards[-k:]) / k, k=k, g0=first["greedy"], g1=last["greedy"])
    rise = [b - a for a, b in zip(first["flat_by_prompt"], last["flat_by_prompt"], strict=True)]
    mean_rise, rise_se = sum(rise) / n_prompts, stdev(rise) / n_prompts ** 0.5  # paired: the same prompts
    ctx.metric("flat_rise", mean_rise)
    ctx.metric("flat_rise_se", rise_se)
    rise_z = mean_rise / rise_se if rise_se else float("inf")
    ctx.finding(
        "The better the model, the less a group teaches: the chance that a group of {G} samples of a held-out prompt "
        "all got the same reward (every advantage 0, so no gradient) went from {a:.2f} to {b:.2f} as accuracy rose: "
        "+{d:.2f}, {z:.1f} standard errors (paired over {n} prompts, {s} samples each)",
        "模型越好,一组采样能教的就越少:留出 prompt 的一组 {G} 个采样奖励全部相同(优势全为 0,没有梯度)的概率,"
        "随准确率上升从 {a:.2f} 变为 {b:.2f}:+{d:.2f},是标准误差的 {z:.1f} 倍({n} 个 prompt 配对,每个 {s} 个采样)",
        Bar({"en": "rise in standard errors", "zh": "上升是标准误差的倍数"}, rise_z, ">", 2), G=GROUP,
        a=first["flat_groups"], b=last["flat_groups"], d=mean_rise, z=rise_z, n=n_prompts, s=samples)


def plot(ctx: ExperimentContext, curve: dict, rewards: list[float]) -> None:
    plt = ctx.plt
    fig, (left, mid, right) = plt.subplots(1, 3, figsize=(13, 4))
    steps = list(curve)
    for key, label, style in (("sampled", "sampled (temperature 1)", "o-"), ("greedy", "greedy", "s--")):
        n_key = "n" if key == "sampled" else "n_greedy"
        ys = [curve[s][key] for s in steps]
        errs = [binomial_se(curve[s][key], curve[s][n_key]) for s in steps]
        left.errorbar(steps, ys, yerr=errs, fmt=style, capsize=3, label=label)
    left.set_xlabel("GRPO step")
    left.set_ylabel("accuracy on held-out sums")
    left.set_ylim(0, 1.02)
    left.legend()
    mid.plot(range(1, len(rewards) + 1), rewards, ".", alpha=0.5, label="one step (4 prompts x 8)")
    window = 5
    smooth = [sum(rewards[max(0, i - window + 1):i + 1]) / len(rewards[max(0, i - window + 1):i + 1])
              for i in range(len(rewards))]
    mid.plot(range(1, len(rewards) + 1), smooth, "-", label=f"mean of {window} steps")
    mid.set_xlabel("GRPO step")
    mid.set_ylabel("mean group reward (RL prompts)")
    mid.legend()
    first, last = curve[0], curve[max(curve)]
    xs = range(len(STYLES))
    right.bar([x - 0.2 for x in xs], [first["share"][s] for s in STYLES], 0.4, label="before GRPO")
    right.bar([x + 0.2 for x in xs], [last["share"][s] for s in STYLES], 0.4, label="after GRPO")
    right.set_xticks(list(xs), ["restates\nthe sum", "'The answer\nis N.'", "other"])
    right.set_ylabel("share of sampled replies")
    right.legend()
    fig.suptitle("GRPO on addition: accuracy on sums RL never saw, and which reply style it picks")
    ctx.savefig(fig, "grpo_accuracy.png")


if __name__ == "__main__":
    main(__file__)
