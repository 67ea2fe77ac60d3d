"""The DPO loss: -log sigmoid(beta * ((policy - reference) on chosen - (policy - reference) on rejected))."""

from __future__ import annotations

import torch

from minimind_notes.exercises.spec import Case, Exercise, Mistake
from minimind_notes.exercises.tensors import randn
from minimind_notes.train.objectives import dpo_loss

SOLUTION = '''\
import torch
import torch.nn.functional as F


def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    margin = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    return -F.logsigmoid(beta * margin).mean()
'''

DOCS = {"dpo_loss": {
    "en": """The DPO loss of B preference pairs; returns a scalar tensor.

    Each argument but beta is (B,): the sequence log-probabilities (summed over the reply's tokens) of the chosen
    and the rejected reply under the policy being trained and under the frozen reference model.
    margin = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected);
    loss = mean of -log sigmoid(beta * margin).
    Use a numerically safe log-sigmoid: margins can be large.""",
    "zh": """B 个偏好对的 DPO 损失;返回一个标量张量。

    除 beta 外每个参数都是 (B,):被训练的策略模型与冻结的参考模型下,被选(chosen)与被拒(rejected)回复的序列
    对数概率(对回复的各 token 求和)。margin = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected);
    loss = -log sigmoid(beta * margin) 的均值。用数值稳定的 log-sigmoid:margin 可能很大。""",
}}

HINTS = [
    {"en": "Each reply's implicit reward is beta * (policy - reference) log-prob: the reference cancels the "
           "reply's baseline likelihood.",
     "zh": "每个回复的隐式奖励是 beta * (策略 - 参考) 的对数概率:参考模型抵消了回复本身的基础似然。"},
    {"en": "F.logsigmoid(z) computes log(sigmoid(z)) without underflow; the loss is its negative mean.",
     "zh": "F.logsigmoid(z) 计算 log(sigmoid(z)) 而不会下溢;损失是它的负均值。"},
]

MISTAKES = [
    Mistake("swapped", "(policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)",
            "(policy_rejected - ref_rejected) - (policy_chosen - ref_chosen)",
            {"en": "The sign is flipped: the margin is chosen minus rejected, so that minimising the loss raises "
                   "the chosen reply.",
             "zh": "符号反了:margin 是 chosen 减 rejected,最小化损失才会抬高被选回复。"}),
    Mistake("no_reference", "(policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)",
            "policy_chosen - policy_rejected",
            {"en": "The reference model is missing: DPO compares log-ratios to the reference, "
                   "(policy - ref) for each reply.",
             "zh": "漏了参考模型:DPO 比较的是相对参考模型的对数比,每个回复都是 (policy - ref)。"}),
    Mistake("beta_outside", "-F.logsigmoid(beta * margin).mean()", "-beta * F.logsigmoid(margin).mean()",
            {"en": "beta goes inside the sigmoid: -log sigmoid(beta * margin).",
             "zh": "beta 应在 sigmoid 里面:-log sigmoid(beta * margin)。"}),
    Mistake("unstable", "-F.logsigmoid(beta * margin)", "-torch.log(torch.sigmoid(beta * margin))",
            {"en": "log(sigmoid(z)) underflows to -inf for very negative z: use F.logsigmoid(z).",
             "zh": "z 很负时 log(sigmoid(z)) 会下溢成 -inf:用 F.logsigmoid(z)。"}),
    Mistake("sum", ".mean()", ".sum()",
            {"en": "Average over the pairs (mean), not sum: the loss must not grow with the batch size.",
             "zh": "对各偏好对取均值(mean)而不是求和:损失不应随 batch 大小增长。"}),
]


def oracle(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    return dpo_loss(torch.cat([policy_chosen, policy_rejected]), torch.cat([ref_chosen, ref_rejected]), beta)[0]


def logps(seed: int, b: int, scale: float = 5.0, dtype=torch.float32):
    return tuple(-(randn(b, seed=seed + i, dtype=dtype, scale=scale).abs()) - 10 for i in range(4))


def cases():
    for dtype in (torch.float32, torch.bfloat16):
        for seed, b, beta in ((0, 6, 0.1), (10, 3, 0.5), (20, 1, 1.0)):
            atol = 1e-5 if dtype == torch.float32 else 3e-2
            yield Case(f"values {str(dtype)[6:]}, seed {seed}, B={b}, beta={beta}", "dpo_loss",
                       (*logps(seed, b, dtype=dtype), beta), atol=atol, rtol=atol)
    yield Case("edge: policy equals reference (loss = ln 2)", "dpo_loss", (*(torch.full((4,), -12.0),) * 4, 0.1))
    yield Case("edge: huge margins (beta * margin = -400)", "dpo_loss",
               (torch.tensor([-1000.0]), torch.tensor([-10.0]), torch.tensor([-10.0]), torch.tensor([-20.0]), 0.4))


def grad_cases():
    yield Case("float64 B=3", "dpo_loss", (*(t.requires_grad_() for t in logps(30, 3, dtype=torch.float64)), 0.3))


EXERCISE = Exercise(
    name="dpo_loss", module="alignment", minutes=15,
    title={"en": "The DPO loss", "zh": "DPO 损失"},
    solution=SOLUTION, docs=DOCS, hints=HINTS, real_code="minimind_notes/train/objectives.py: dpo_loss",
    oracle={"dpo_loss": oracle}, cases=cases, grad_cases=grad_cases, mistakes=MISTAKES,
)
