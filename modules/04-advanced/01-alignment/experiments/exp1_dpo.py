"""Alignment exp1: DPO on the embedded preference pairs, measured pair by pair.

A lab SFT base (hidden 64, 2 layers) is trained from scratch through the real Trainer on the embedded
sft.jsonl, then DPO (DPOObjective, the one `minimind train dpo` runs: frozen reference = the base,
beta 0.1, mean log-prob per reply token) trains on two thirds of data/dpo.jsonl. Held out: the
other third plus dpo_val.jsonl, never trained on, less the few pairs too long for the lab's 64-token
window.

The pairs come in three kinds (tools/corpus/preferences.py): a right vs a wrong answer (a near-miss sum
or fact), a helpful vs a rude reply, and an on-topic vs an off-topic reply. For every held-out pair,
before and after DPO, we measure the mean log-prob per token of the chosen and of the rejected reply
under the policy and under the reference, and from them:

- the implicit reward margin beta * ((log pi - log pi_ref)(chosen) - (log pi - log pi_ref)(rejected))
  and the share of pairs where it is positive (reward accuracy);
- the policy's own preference: the share of pairs where it finds the chosen reply more likely;
- how much each reply's log-prob moved.

A small tokenizer (the project's BPE, 1,024 tokens, trained on the SFT text and the DPO training pairs)
keeps the lab cheap; see minimind_notes/lab/alignment.py.
"""

from __future__ import annotations

import math

import torch

from minimind_notes.content import data_dir
from minimind_notes.data.jsonl import read_jsonl, write_jsonl
from minimind_notes.errors import MiniMindError
from minimind_notes.evaluate import pair_logps, reward_accuracy
from minimind_notes.lab.alignment import (
    PAIR_KINDS,
    binomial_se,
    chat_texts,
    pair_kind,
    small_tokenizer,
)
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.lab.stage import lab_config, run_stage
from minimind_notes.train.loop import Trainer

LAB = dict(hidden_size=64, num_hidden_layers=2, max_seq_len=64, batch_size=8)
DPO_LR, BETA, VOCAB = 1e-3, 0.1, 1024


def prepare(ctx: ExperimentContext) -> tuple[str, str, str, list[str]]:
    """Split the pairs, train the tokenizer; returns (train path, held-out path, tokenizer dir, kinds)."""
    pairs = read_jsonl(data_dir() / "dpo.jsonl")  # a third of the training pairs joins the held-out ones
    held = pairs[::3] + read_jsonl(data_dir() / "dpo_val.jsonl")
    train = [p for i, p in enumerate(pairs) if i % 3]
    lab = ctx.out_dir / "lab"
    tok = small_tokenizer(chat_texts(read_jsonl(data_dir() / "sft.jsonl") + train), lab / "tokenizer", VOCAB)
    # Held-out pairs must fit the lab's window whole (the few long ones would otherwise be dropped).
    held = [p for p in held if max(len(tok.apply_chat_template(p[k], tokenize=True)) for k in ("chosen", "rejected"))
            <= LAB["max_seq_len"]]
    train_path, held_path = write_jsonl(lab / "dpo_train.jsonl", train), write_jsonl(lab / "dpo_held.jsonl", held)
    return str(train_path), str(held_path), str(lab / "tokenizer"), [pair_kind(p) for p in held]


def measure(trainer: Trainer) -> torch.Tensor:
    """(N, 4): chosen and rejected log-probs under the policy, then under the reference."""
    data = trainer.objective.val_data
    return torch.cat([pair_logps(trainer.model, data), pair_logps(trainer.objective.reference, data)], dim=1)


def summarize(lp: torch.Tensor, base: torch.Tensor, kinds: list[str], kind: str | None) -> dict:
    """Preference and reward numbers over the pairs of one kind (None = all)."""
    rows = [i for i, k in enumerate(kinds) if kind is None or k == kind]
    x, b = lp[rows], base[rows]
    margin = (x[:, 0] - x[:, 2]) - (x[:, 1] - x[:, 3])  # log-ratio of chosen minus log-ratio of rejected
    return {"n": len(rows), "pref_before": float((b[:, 0] > b[:, 1]).float().mean()),
            "pref_after": float((x[:, 0] > x[:, 1]).float().mean()),
            "reward_acc": reward_accuracy(margin), "margin": float(BETA * margin.mean()),
            "d_chosen": float((x[:, 0] - b[:, 0]).mean()), "d_rejected": float((x[:, 1] - b[:, 1]).mean())}


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest and steady on a busy CPU
    sft_steps, epochs = (200, 1) if ctx.quick else (800, 3)
    train_path, held_path, tok_dir, kinds = prepare(ctx)
    lab = ctx.out_dir / "lab"
    base = run_stage("sft", lab, from_weight="none", tokenizer=tok_dir, max_steps=sft_steps, learning_rate=1e-2,
                     warmup_steps=5, seed=ctx.seed, precision=ctx.precision, **LAB)
    trainer = Trainer(lab_config("dpo", lab, data_path=train_path, val_path=held_path, from_weight="full_sft",
                                 tokenizer=tok_dir, epochs=epochs, learning_rate=DPO_LR, dpo_beta=BETA,
                                 warmup_steps=0, seed=ctx.seed, precision=ctx.precision, **LAB), echo=lambda text: None)
    ctx.log("SFT base: {s} steps on sft.jsonl (held-out loss {l:.2f}). DPO: {n} training pairs, {e} epoch(s) = {t} "
            "steps of 8 pairs, lr {lr}, beta {b}; {h} held-out pairs.",
            "SFT 基座:在 sft.jsonl 上训练 {s} 步(验证 loss {l:.2f})。DPO:{n} 对训练数据,{e} 个 epoch = {t} 步、"
            "每步 8 对,学习率 {lr},beta {b};留出 {h} 对。",
            s=sft_steps, l=base.summary.final_eval.get("val_loss", math.nan), n=len(trainer.objective.data),
            e=epochs, t=trainer.total_steps, lr=DPO_LR, b=BETA, h=len(kinds))
    if len(trainer.objective.val_data) != len(kinds):  # the reader drops pairs cut before their reply
        raise MiniMindError(f"{len(kinds) - len(trainer.objective.val_data)} held-out pairs were dropped",
                            hint="raise max_seq_len so every pair keeps its replies")
    before = measure(trainer)
    objective_before = trainer.objective.evaluate(trainer.model)
    logs = []
    while trainer.step < trainer.total_steps:
        logs.append(trainer.train_step())
    after = measure(trainer)
    objective_after = trainer.objective.evaluate(trainer.model)
    stats = {k or "all": summarize(after, before, kinds, k) for k in (None, *PAIR_KINDS)}
    ctx.metric("by_kind", stats)
    for key in ("reward_acc", "margin", "pref_before", "pref_after", "d_chosen", "d_rejected"):  # quoted by the text
        ctx.metric(key, stats["all"][key])
    for kind in ("rude", "wrong"):
        ctx.metric(f"{kind}_reward_acc", stats[kind]["reward_acc"])
    ctx.metric("wrong_pref_before", stats["wrong"]["pref_before"])
    ctx.metric("objective_eval", {"before": objective_before, "after": objective_after})
    ctx.metric("dpo_loss", [x["loss"] for x in logs])
    report(ctx, stats, logs, objective_before, objective_after)
    plot(ctx, stats, logs, after, before, kinds)


def report(ctx: ExperimentContext, stats: dict, logs: list[dict], ev0: dict, ev1: dict) -> None:
    ctx.table({"en": "Held-out pairs by kind, before and after DPO (log-probs: mean per reply token)",
               "zh": "按类别统计的留出偏好对,DPO 前后(log-prob:每个回复 token 的平均值)"},
              ["pairs", "n", "policy prefers chosen: before", "after", "implicit reward acc", "reward margin",
               "Δ log p chosen", "Δ log p rejected"],
              [[k, s["n"], s["pref_before"], s["pref_after"], s["reward_acc"], s["margin"], s["d_chosen"],
                s["d_rejected"]] for k, s in stats.items()])
    a, n = stats["all"], stats["all"]["n"]
    se = binomial_se(0.5, n)
    ctx.code_fact(
        "DPO's loss starts at {l0:.4f} = ln 2 ({ln2:.4f}): at step 1 the policy is the reference, so every margin "
        "is 0 and the loss is -log sigmoid(0)",
        "DPO 的 loss 从 {l0:.4f} = ln 2({ln2:.4f})开始:第 1 步时策略就是参考模型,所有 margin 都是 0,"
        "loss 就是 -log sigmoid(0)",
        abs(logs[0]["loss"] - math.log(2)) < 0.01, l0=logs[0]["loss"], ln2=math.log(2))
    z = (a["reward_acc"] - 0.5) / se
    ctx.metric("reward_acc_z", z)
    ctx.finding(
        "On {n} held-out pairs the implicit reward beta*log(pi/pi_ref) ranks the chosen reply higher for {r:.3f} of "
        "them (the objective's own evaluate(): {e:.3f}), {z:.1f} standard errors above a coin flip",
        "在 {n} 个留出对上,隐式奖励 beta*log(pi/pi_ref) 对其中 {r:.3f} 的对给 chosen 打分更高"
        "(objective 自己的 evaluate():{e:.3f}),比抛硬币高 {z:.1f} 个标准误差",
        Bar({"en": "standard errors above 0.5", "zh": "高出 0.5 的标准误差数"}, z, ">", 3),
        n=n, r=a["reward_acc"], e=ev1["val_reward_acc"], z=z)
    moved = a["pref_after"] - a["pref_before"]
    ctx.finding(
        "The policy's own preference moved much less: it found the chosen reply more likely for {p0:.3f} of the "
        "held-out pairs before DPO and {p1:.3f} after ({d:+.3f}), while the implicit reward's accuracy went from "
        "0.5 (every pair a tie) to {r:.3f}. The implicit reward measures the change against the reference; the "
        "policy's preference still carries everything the base already found likely",
        "策略自己的偏好变化小得多:DPO 前它认为 chosen 更可能的留出对占 {p0:.3f},DPO 后占 {p1:.3f}({d:+.3f}),"
        "而隐式奖励的准确率从 0.5(每对都是平局)升到 {r:.3f}。隐式奖励衡量的是相对参考模型的变化;"
        "策略自己的偏好仍然带着基座原本觉得哪个更可能的全部信息",
        [Bar({"en": "|change of the preference|", "zh": "偏好变化的绝对值"}, abs(moved), "<", 0.1),
         Bar({"en": "|change of the preference| / rise of the reward accuracy",
              "zh": "偏好变化的绝对值 / 奖励准确率的升幅"}, abs(moved) / max(a["reward_acc"] - 0.5, 1e-9), "<", 0.5)],
        p0=a["pref_before"], p1=a["pref_after"], d=moved, r=a["reward_acc"])
    rude, wrong = stats["rude"], stats["wrong"]
    wrong_se = binomial_se(0.5, wrong["n"])
    ctx.finding(
        "What generalizes depends on the kind of pair: polite vs rude, reward accuracy {r:.2f} and margin "
        "{mr:.3f} (the same few rude lines recur, so pushing them down carries over); right vs wrong answer, "
        "{w:.2f} and {mw:.3f} (the rejected reply differs by one number, and which one is right is knowledge: the "
        "base preferred the right one for {wp:.2f} of these {nw} pairs, close to a coin flip, {wz:+.1f} standard "
        "errors from 0.5)",
        "能泛化到什么取决于偏好对的类别:礼貌 vs 粗鲁,奖励准确率 {r:.2f}、margin {mr:.3f}(反复出现的就那几句粗话,"
        "把它们压下去就能迁移);正确 vs 错误答案,{w:.2f} 和 {mw:.3f}(被拒回复只差一个数字,而哪个数字对是基座"
        "不具备的知识:这 {nw} 对里,基座原本偏好正确答案的比例是 {wp:.2f},接近抛硬币,离 0.5 {wz:+.1f} 个标准误差)",
        [Bar({"en": "rude accuracy minus wrong-answer accuracy", "zh": "粗鲁类准确率减去错误答案类"},
             rude["reward_acc"] - wrong["reward_acc"], ">", 0.25),
         Bar({"en": "rude margin - 5 x wrong-answer margin", "zh": "粗鲁类 margin - 5 x 错误答案类 margin"},
             rude["margin"] - 5 * wrong["margin"], ">", 0),
         Bar({"en": "|base preference on wrong-answer pairs - 0.5| in SE",
              "zh": "基座在错误答案类上的偏好与 0.5 之差(SE)"},
             abs(wrong["pref_before"] - 0.5) / wrong_se, "<=", 3)],
        r=rude["reward_acc"], mr=rude["margin"], w=wrong["reward_acc"], mw=wrong["margin"],
        wp=wrong["pref_before"], nw=wrong["n"], wz=(wrong["pref_before"] - 0.5) / wrong_se)
    ctx.finding(
        "DPO pushed both replies down: on held-out pairs the chosen reply's log-prob per token moved {c:+.3f} and "
        "the rejected one's {r:+.3f}. The loss only asks for a wider gap, and here it was bought mostly by lowering "
        "both, the rejected more",
        "DPO 把两个回复都往下压了:在留出对上,chosen 回复每个 token 的 log-prob 变化 {c:+.3f},rejected 变化 "
        "{r:+.3f}。loss 只要求两者的差距变大,这里主要是靠把两者都压低、rejected 压得更多来实现的",
        [Bar({"en": "Δ log p chosen", "zh": "chosen 的 log-prob 变化"}, a["d_chosen"], "<", 0),
         Bar({"en": "Δ chosen - Δ rejected", "zh": "chosen 变化减去 rejected 变化"},
             a["d_chosen"] - a["d_rejected"], ">=", 0.1)],
        c=a["d_chosen"], r=a["d_rejected"])


def plot(ctx: ExperimentContext, stats: dict, logs: list[dict], after: torch.Tensor, before: torch.Tensor,
         kinds: list[str]) -> None:
    plt = ctx.plt
    fig, (left, mid, right) = plt.subplots(1, 3, figsize=(14, 4))
    losses = [x["loss"] for x in logs]
    left.plot(range(1, len(losses) + 1), losses, ".-", lw=1)
    left.axhline(math.log(2), color="gray", ls="--", label="ln 2")
    left.set_xlabel("DPO step")
    left.set_ylabel("DPO loss (training batch)")
    left.legend()
    names = list(stats)
    xs = range(len(names))
    for offset, key, label in ((-0.27, "pref_before", "policy prefers chosen: before"),
                               (0.0, "pref_after", "... after"), (0.27, "reward_acc", "implicit reward acc")):
        mid.bar([x + offset for x in xs], [stats[k][key] for k in names], 0.27, label=label)
    mid.axhline(0.5, color="gray", ls=":")
    mid.set_xticks(list(xs), [f"{k}\n(n={stats[k]['n']})" for k in names])
    mid.set_ylim(0, 1.1)
    mid.legend(fontsize=7)
    for kind, marker in zip(PAIR_KINDS, "o^s", strict=True):
        rows = [i for i, k in enumerate(kinds) if k == kind]
        right.scatter((after[rows, 0] - before[rows, 0]).numpy(), (after[rows, 1] - before[rows, 1]).numpy(),
                      s=12, marker=marker, label=kind, alpha=0.7)
    lim = float(min((after[:, :2] - before[:, :2]).min(), -0.1)) - 0.1
    right.plot([lim, 0.5], [lim, 0.5], color="gray", lw=0.8)
    right.axhline(0, color="gray", lw=0.5)
    right.axvline(0, color="gray", lw=0.5)
    right.set_xlabel("Δ log p(chosen) per token")
    right.set_ylabel("Δ log p(rejected) per token")
    right.legend(fontsize=8)
    fig.suptitle("DPO on held-out preference pairs: implicit reward vs the policy's own preference")
    ctx.savefig(fig, "dpo_pairs.png")


if __name__ == "__main__":
    main(__file__)
