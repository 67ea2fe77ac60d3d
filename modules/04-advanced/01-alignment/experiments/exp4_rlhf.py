"""Alignment exp4: the RLHF pipeline (reward model, then PPO), PPO vs GRPO vs DPO at equal wall time, and GAE
by hand.

1. GAE on a 5-step reply computed by hand (delta_t = r_t + gamma V_{t+1} - V_t, A_t = delta_t + gamma lambda
   A_{t+1}) next to train/rl.py's `gae`.
2. A reward model (`minimind train reward`'s RewardObjective: the SFT backbone plus a scalar head, Bradley-Terry)
   on preference pairs of the addition world: the right sum chosen, a near miss rejected, on the RL sums;
   its pair accuracy on pairs with near misses it never saw, and on the sums RL never asks.
3. Over-optimisation: PPO against that learned reward, while the true reward (the rule: is the last number the
   sum?) of the same sampled replies is tracked. The learned reward is what PPO climbs; the true one is what we
   wanted. We report where each goes, whatever it is.
4. From the same SFT base and for the same wall time: PPO (critic, GAE, rule reward), GRPO (groups of 8, two
   passes of two mini-batches per rollout), DPO (the pairs of 2). Held-out pass@1 with its standard error, KL
   to the reference, time per step, and the training state each carries (PPO's critic is a second model).

The lab (lab/alignment.py): hidden 64, 2 layers, a small tokenizer, sums a + b with a, b in 0..5.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from statistics import mean, stdev

import torch

from minimind_notes.data import phrasing
from minimind_notes.data.chat_cache import DPODataset
from minimind_notes.data.jsonl import write_jsonl
from minimind_notes.evaluate import pass_at_1
from minimind_notes.lab.alignment import (
    GRPO_LAB,
    LAB_MODEL,
    AdditionLab,
    accuracy,
    addition_lab,
    addition_sums,
    conversation,
    policy_kl,
)
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.lab.stage import lab_config, run_stage
from minimind_notes.train.loop import Trainer
from minimind_notes.train.rewards import RewardModelScorer
from minimind_notes.train.rl import gae, pair_scores

RL_LR = 1e-3
METHODS = ("ppo", "grpo", "dpo")


def gae_by_hand(ctx: ExperimentContext) -> None:
    gamma, lam = 1.0, 0.95  # MiniMind's defaults
    r = [-0.01, 0.0, -0.02, 0.01, 1.0]  # a per-token KL penalty, then the reward on the last token
    v = [0.30, 0.35, 0.32, 0.50, 0.80]
    hand, running = [0.0] * 5, 0.0
    for t in (4, 3, 2, 1, 0):  # written out: no tensors, no masks
        delta = r[t] + gamma * (v[t + 1] if t < 4 else 0.0) - v[t]
        running = delta + gamma * lam * running
        hand[t] = running
    code, _ = gae(torch.tensor([r]), torch.tensor([v]), torch.ones(1, 5), gamma, lam)
    diff = max(abs(a - b) for a, b in zip(hand, code[0].tolist(), strict=True))
    ctx.metric("gae_hand", hand)
    ctx.table({"en": "GAE on 5 steps (gamma 1, lambda 0.95)", "zh": "5 步上的 GAE(gamma 1,lambda 0.95)"},
              ["t", "r_t", "V_t", "A_t by hand", "A_t from train/rl.py"],
              [[t, r[t], v[t], hand[t], float(code[0, t])] for t in range(5)])
    ctx.code_fact("GAE by hand equals train/rl.py's gae on the 5-step example: largest difference {d:.1e}",
                  "手算的 GAE 与 train/rl.py 的 gae 在这个 5 步例子上相同:最大差 {d:.1e}",
                  diff < 1e-6, d=diff)


def preference_pairs(sums: list[phrasing.Sum], rng: random.Random, miss: int) -> list[dict]:
    """For every wording of every sum: the right reply chosen, a near miss in the same style rejected (the
    `miss`-th of three distinct near misses: another `miss` gives pairs the reward model never saw)."""
    rows = []
    for s in sums:
        misses = phrasing.near_misses(s.value, random.Random(f"{s}"))  # the same three for every call
        for q in phrasing.questions(s, zh=False):
            style = rng.randrange(3)
            wrong = misses[miss]
            chosen, rejected = conversation(q, phrasing.reply(s, False, style)), conversation(
                q, phrasing.reply(s, False, style, wrong))
            rows.append({"chosen": chosen["conversations"], "rejected": rejected["conversations"]})
    return rows


def trainer_for(method: str, lab: AdditionLab, pairs: str, seed: int, **overrides) -> Trainer:
    common = dict(from_weight="full_sft", tokenizer=str(lab.tokenizer_dir), seed=seed, precision=lab.precision,
                  learning_rate=RL_LR, warmup_steps=0, val_path=None, run_name=f"exp4_{method}", log_every=1,
                  **LAB_MODEL)
    settings = {
        "ppo": dict(data_path=str(lab.rl_path), batch_size=16, mini_batch_size=8, ppo_update_iters=2,
                    grpo_max_new_tokens=12, rollout_temperature=1.0),
        "grpo": dict(data_path=str(lab.rl_path), **{**GRPO_LAB, "ppo_update_iters": 2, "mini_batch_size": 16}),
        "dpo": dict(data_path=pairs, batch_size=8),
    }[method]
    return Trainer(lab_config(method, lab.out_dir, **{**common, **settings, **overrides}), echo=lambda text: None)


def state_bytes(trainer: Trainer) -> int:
    """What training holds besides activations: each trained parameter with its gradient and two AdamW moments,
    and the frozen reference (and PPO's critic is among the trained)."""
    trained = sum(p.numel() * p.element_size() for p in trainer.params)
    frozen = sum(p.numel() * p.element_size() for p in trainer.objective.reference.parameters())
    return 4 * trained + frozen


def held_out(model: torch.nn.Module, reference: torch.nn.Module, lab: AdditionLab, tok, samples: int) -> dict:
    drawn = accuracy(model, tok, lab.held_rows, samples=samples, temperature=1.0, seed=1234)
    pass1, se = pass_at_1(drawn.rewards, samples)
    kl = policy_kl(model, reference, drawn.replies)
    return {"pass1": pass1, "se": se, "greedy": accuracy(model, tok, lab.held_rows).share,
            "kl": mean(kl), "kl_se": stdev(kl) / len(kl) ** 0.5}


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest and steady on a busy CPU
    sft_steps, rm_steps, over_steps, every, budget, samples = (
        (300, 60, 24, 6, 5.0, 8) if ctx.quick else (400, 200, 80, 10, 30.0, 16))
    gae_by_hand(ctx)

    lab = addition_lab(ctx.out_dir / "lab", ctx.seed, sft_steps, ctx.precision)
    rng = random.Random(ctx.seed)
    rl_sums = [s for s in addition_sums(6) if s not in lab.held_sums]  # the sums the RL prompts ask
    pairs = write_jsonl(lab.out_dir / "pairs.jsonl", preference_pairs(rl_sums, rng, 0))
    # Held out: the two near misses the reward model never saw (72 pairs each: one gave an SE of 6 points)
    fresh = write_jsonl(lab.out_dir / "pairs_fresh.jsonl",
                        preference_pairs(rl_sums, rng, 1) + preference_pairs(rl_sums, rng, 2))
    unseen = write_jsonl(lab.out_dir / "pairs_unseen.jsonl", preference_pairs(lab.held_sums, rng, 0))
    rm = run_stage("reward", lab.out_dir, data_path=str(pairs), val_path=str(fresh), from_weight="full_sft",
                   tokenizer=str(lab.tokenizer_dir), batch_size=16, max_steps=rm_steps, learning_rate=3 * RL_LR,
                   warmup_steps=0, seed=ctx.seed, **LAB_MODEL, precision=ctx.precision)
    acc, n_pairs = rm.summary.final_eval["val_pair_acc"], int(rm.summary.final_eval["val_pairs"])
    acc_se = (acc * (1 - acc) / n_pairs) ** 0.5
    ctx.metric("rm_pair_acc", acc)
    unseen_data = DPODataset(unseen, rm.tokenizer, LAB_MODEL["max_seq_len"])
    with torch.no_grad():
        ids, labels = unseen_data.batch(list(range(len(unseen_data))))
        scores = pair_scores(rm.model, ids, labels)
    unseen_acc = float((scores[:len(unseen_data)] > scores[len(unseen_data):]).float().mean())
    ctx.metric("reward_model", {"val_pair_acc": acc, "se": acc_se, "pairs": n_pairs,
                                "val_margin": rm.summary.final_eval["val_margin"], "unseen_sums_acc": unseen_acc})
    ctx.finding("The reward model ranks the right sum above a near miss it never saw on {a:.1%} of {n} held-out "
                "pairs of the RL sums, SE {s:.1%}, {z:.1f} SE above a coin flip; on the sums RL never asks "
                "it gets {u:.1%}: what PPO will climb is this model, not arithmetic",
                "奖励模型在 RL 加法题的 {n} 个留出偏好对(错误答案它没见过)上把正确答案排在前面的比例是 {a:.1%},"
                "标准误差 {s:.1%},比抛硬币高 {z:.1f} 个 SE;在 RL 从不问的加法上是 {u:.1%}:"
                "PPO 要爬的是这个模型,而不是算术本身",
                Bar({"en": "standard errors above 50%", "zh": "高出 50% 的标准误差数"}, (acc - 0.5) / acc_se, ">", 2),
                a=acc, n=n_pairs, s=acc_se, z=(acc - 0.5) / acc_se, u=unseen_acc)

    curve = over_optimise(ctx, lab, rm.summary.weights, over_steps, every, samples)
    compare(ctx, lab, str(pairs), budget, samples)
    plot(ctx, curve)


def over_optimise(ctx: ExperimentContext, lab: AdditionLab, rm_path: str, steps: int, every: int,
                  samples: int) -> dict:
    """PPO with the learned reward; every few steps, on replies sampled for the RL prompts, the learned reward's
    mean score and the true reward (the rule)."""
    trainer = trainer_for("ppo", lab, "", ctx.seed, reward_model_path=rm_path, max_steps=steps,
                          run_name="exp4_ppo_rm")
    scorer = RewardModelScorer(rm_path, trainer.tok, trainer.device)
    curve = {}
    for step in range(steps + 1):
        if step % every == 0:
            drawn = accuracy(trainer.model, trainer.tok, lab.rl_rows, samples=samples // 2, temperature=1.0,
                             seed=99)
            learned = scorer([None] * len(drawn.replies), drawn.replies)
            curve[step] = {"learned": mean(learned), "true": drawn.share}
        if step < steps:
            trainer.train_step()
    first, last = curve[0], curve[max(curve)]
    peak_true = max(curve, key=lambda k: curve[k]["true"])
    n = len(lab.rl_rows) * (samples // 2)
    noise = 2 * 2 ** 0.5 * (0.25 / n) ** 0.5  # 2 SE of a difference of two shares (at most)
    ctx.metric("over_optimisation", {str(k): v for k, v in curve.items()})
    for key in ("learned", "true"):  # first and last, quoted by the text
        ctx.metric(f"{key}_reward", [first[key], last[key]])
    ctx.table({"en": "PPO against the learned reward model: what it climbs and what we wanted",
               "zh": "对学到的奖励模型做 PPO:它爬的是什么,我们要的是什么"},
              ["PPO step", "learned reward (mean score)", "true reward (share right)"],
              [[k, v["learned"], v["true"]] for k, v in curve.items()])
    peak = curve[peak_true]["true"]
    if peak - last["true"] > noise:
        verdict_en = (f"the true reward peaked at step {peak_true} ({peak:.3f}) and fell to {last['true']:.3f}, "
                      f"more than 2 SE ({noise:.3f}), while the learned one rose: over-optimisation")
        verdict_zh = (f"真实奖励在第 {peak_true} 步达到峰值({peak:.3f}),随后降到 {last['true']:.3f},降幅超过 2 个 SE"
                      f"({noise:.3f}),而学到的奖励在涨:这就是过度优化")
    elif last["true"] - first["true"] > noise:
        verdict_en = "the true reward rose too, by more than 2 SE: no over-optimisation at this scale and length"
        verdict_zh = "真实奖励也上升了,超过 2 个 SE:在这个规模和长度上没有出现过度优化"
    else:
        verdict_en = (f"the true reward moved by less than 2 SE ({noise:.3f}): the learned reward's gain did not "
                      "carry over to the true one, and no fall beyond the noise showed either")
        verdict_zh = (f"真实奖励的变化小于 2 个 SE({noise:.3f}):学到的奖励的提升没有传到真实奖励上,"
                      "也没有出现超出噪声的下降")
    ctx.finding("PPO raised the learned reward from {a:.3f} to {b:.3f}; the true reward of the same replies went "
                "{c:.3f} -> {d:.3f}; {verdict_en}",
                "PPO 把学到的奖励从 {a:.3f} 提高到 {b:.3f};同一批回复的真实奖励 {c:.3f} -> {d:.3f};{verdict_zh}",
                Bar({"en": "rise of the learned reward", "zh": "学到的奖励的升幅"}, last["learned"] - first["learned"],
                    ">", 0), a=first["learned"], b=last["learned"], c=first["true"],
                d=last["true"], verdict_en=verdict_en, verdict_zh=verdict_zh)
    return curve


def compare(ctx: ExperimentContext, lab: AdditionLab, pairs: str, budget: float, samples: int) -> None:
    """The three methods from the same base, each for `budget` seconds of training steps."""
    results = {}
    for method in METHODS:
        trainer = trainer_for(method, lab, pairs, ctx.seed, max_steps=100_000, time_budget=budget)
        before = held_out(trainer.model, trainer.objective.reference, lab, trainer.tok, samples) \
            if method == METHODS[0] else results[METHODS[0]]["before"]
        trainer.started = time.monotonic()  # the budget is for training: on a busy CPU this evaluation took it all
        summary = trainer.run()
        rows = [r for r in metrics_rows(summary.run_dir) if "loss" in r]
        results[method] = {"before": before,
                           "after": held_out(trainer.model, trainer.objective.reference, lab, trainer.tok, samples),
                           "steps": summary.steps, "seconds": summary.seconds,
                           "per_step": summary.seconds / max(summary.steps, 1),
                           "state_mb": state_bytes(trainer) / 2**20,
                           "clip_frac": max((r.get("clip_frac", 0.0) for r in rows), default=0.0)}
    ctx.metric("equal_time", results)
    base = results[METHODS[0]]["before"]
    ctx.table({"en": f"From the same SFT base, {budget:.0f} s of training each; held-out sums ({len(lab.held_rows)} "
                     f"prompts x {samples} samples)",
               "zh": f"同一个 SFT 基座,各训练 {budget:.0f} 秒;留出加法题({len(lab.held_rows)} 个 prompt x "
                     f"{samples} 次采样)"},
              ["method", "steps", "s / step", "training state (MB)", "pass@1", "± SE", "greedy", "KL to ref (nats)",
               "± SE"],
              [["SFT base", 0, 0, 0, base["pass1"], base["se"], base["greedy"], 0.0, 0.0]]
              + [[m, v["steps"], v["per_step"], v["state_mb"], v["after"]["pass1"], v["after"]["se"],
                  v["after"]["greedy"], v["after"]["kl"], v["after"]["kl_se"]] for m, v in results.items()])
    ratio = results["ppo"]["state_mb"] / results["grpo"]["state_mb"]
    ctx.code_fact("PPO's critic is a second model: PPO carries {r:.2f}x GRPO's training state ({p:.1f} vs {g:.1f} "
                  "MB; at least 1.5x by construction) and took {t:.3f} s per step against GRPO's {u:.3f} s (timed; "
                  "reported, not checked)",
                  "PPO 的 critic 是第二个模型:PPO 的训练状态是 GRPO 的 {r:.2f} 倍({p:.1f} 对 {g:.1f} MB;按构造至少 "
                  "1.5 倍),每步 {t:.3f} 秒,GRPO 是 {u:.3f} 秒(计时;只报告、不作检验)",
                  ratio >= 1.5, r=ratio, p=results["ppo"]["state_mb"], g=results["grpo"]["state_mb"],
                  t=results["ppo"]["per_step"], u=results["grpo"]["per_step"])
    clip = ctx.metric("grpo_clip_frac", results["grpo"]["clip_frac"])
    ctx.finding("With four updates per rollout (two passes, two mini-batches) GRPO's ratio left 1 and the clip "
                "acted: up to {c:.1%} of reply tokens clipped in a step (with one update it is 0 by construction)",
                "每个 rollout 更新四次(两遍、每遍两个 mini-batch)时,GRPO 的比率离开了 1,裁剪起了作用:"
                "一步里最多 {c:.1%} 的回复 token 被裁剪"
                "(只更新一次时按构造恒为 0)",
                Bar({"en": "largest share clipped", "zh": "被裁剪的最大比例"}, clip, ">", 0), c=clip)
    best = max(METHODS, key=lambda m: results[m]["after"]["pass1"])
    ctx.log("Held-out pass@1: base {b:.3f}; " + "; ".join(
        f"{m} {results[m]['after']['pass1']:.3f} ± {results[m]['after']['se']:.3f}" for m in METHODS)
        + " (highest: {best}; a gap under 2 SE is noise at this size).",
        "留出 pass@1:基座 {b:.3f};" + ";".join(
            f"{m} {results[m]['after']['pass1']:.3f} ± {results[m]['after']['se']:.3f}" for m in METHODS)
        + "(最高:{best};小于 2 个 SE 的差距在这个规模上是噪声)。", b=base["pass1"], best=best)


def metrics_rows(run_dir: str) -> list[dict]:
    return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]


def plot(ctx: ExperimentContext, curve: dict) -> None:
    results = ctx.metrics["equal_time"]
    plt = ctx.plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    steps = list(curve)
    left.plot(steps, [curve[s]["learned"] for s in steps], "o-", label="learned reward (RM score)")
    twin = left.twinx()
    twin.plot(steps, [curve[s]["true"] for s in steps], "s--", color="tab:red", label="true reward (rule)")
    left.set_xlabel("PPO step (against the reward model)")
    left.set_ylabel("mean reward-model score")
    twin.set_ylabel("share of replies right")
    left.legend(loc="upper left")
    twin.legend(loc="lower right")
    names = ["SFT", *METHODS]
    ys = [results["ppo"]["before"]["pass1"]] + [results[m]["after"]["pass1"] for m in METHODS]
    errs = [results["ppo"]["before"]["se"]] + [results[m]["after"]["se"] for m in METHODS]
    right.bar(names, ys, yerr=errs, capsize=4)
    right.set_ylabel("held-out pass@1")
    right.set_title("equal wall time from the same SFT base")
    fig.suptitle("RLHF on addition: reward model, over-optimisation, PPO vs GRPO vs DPO")
    ctx.savefig(fig, "rlhf.png")


if __name__ == "__main__":
    main(__file__)
