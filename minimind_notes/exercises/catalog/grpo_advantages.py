"""GRPO's group-normalised advantages: each reward relative to the other answers to the same prompt."""

from __future__ import annotations

import torch

from minimind_notes.exercises.spec import Case, Exercise, Mistake
from minimind_notes.train.objectives import group_advantages

SOLUTION = '''\
def group_advantages(rewards, group_size):
    r = rewards.view(-1, group_size)
    return ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-4)).view(-1)
'''

DOCS = {"group_advantages": {
    "en": """GRPO's advantages for P prompts with group_size sampled answers each.

    rewards: (P * group_size,) float, the answers of prompt 0 first, then prompt 1's, ...; returns the same shape.
    Within each group: (reward - group mean) / (group std + 1e-4), with torch's default (unbiased) std.
    The 1e-4 keeps a group whose answers all scored the same at 0 instead of NaN.""",
    "zh": """GRPO 的优势:P 个提示,每个采样 group_size 个回答。

    rewards:(P * group_size,) 的浮点数,先是提示 0 的各回答,再是提示 1 的……;返回同样形状。
    每组内:(奖励 - 组均值) / (组标准差 + 1e-4),标准差用 torch 默认的(无偏)std。
    1e-4 让一组得分全相同的回答得到 0 而不是 NaN。""",
}}

HINTS = [
    {"en": "rewards.view(-1, group_size) puts each prompt's answers on one row.",
     "zh": "rewards.view(-1, group_size) 把每个提示的回答放在一行。"},
    {"en": "mean(1, keepdim=True) and std(1, keepdim=True) are per row: per group, never over the whole batch.",
     "zh": "mean(1, keepdim=True) 与 std(1, keepdim=True) 是按行算的:按组,而不是整个 batch。"},
]

MISTAKES = [
    Mistake("whole_batch", "r = rewards.view(-1, group_size)", "r = rewards.view(1, -1)",
            {"en": "You normalise over the whole batch: GRPO compares each answer with the other answers to the "
                   "SAME prompt (one group per prompt).",
             "zh": "你在整个 batch 上归一化:GRPO 把每个回答与**同一提示**的其他回答比较(每个提示一组)。"}),
    Mistake("population_std", "r.std(1, keepdim=True)", "r.std(1, keepdim=True, unbiased=False)",
            {"en": "Use torch's default unbiased std (divides by G - 1), as MiniMind does.",
             "zh": "用 torch 默认的无偏标准差(除以 G - 1),与 MiniMind 一致。"}),
    Mistake("no_eps", " + 1e-4", "",
            {"en": "A group whose rewards are all equal has std 0: add 1e-4 to the std, so its advantages are 0, "
                   "not NaN.",
             "zh": "奖励全相同的组标准差为 0:给标准差加 1e-4,这样它们的优势是 0 而不是 NaN。"}),
    Mistake("no_std", " / (r.std(1, keepdim=True) + 1e-4)", "",
            {"en": "Only centred: divide by the group's std too, so every group's advantages have a similar scale.",
             "zh": "只减了均值:还要除以组内标准差,让各组的优势尺度相近。"}),
]


def rewards(seed: int, prompts: int, group: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (prompts * group,), generator=g).float() + torch.rand(prompts * group, generator=g)


def cases():
    for seed, p, g in ((0, 3, 4), (1, 2, 8), (2, 1, 5)):
        yield Case(f"values seed {seed}, {p} prompts x {g} answers", "group_advantages", (rewards(seed, p, g), g))
    yield Case("edge: groups of 0/1 rewards, one group all equal", "group_advantages",
               (torch.tensor([1.0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 1]), 4))
    yield Case("edge: group size 2", "group_advantages", (torch.tensor([0.0, 1, 1, 0, 0.5, 0.25]), 2))


EXERCISE = Exercise(
    name="grpo_advantages", module="alignment", minutes=10,
    title={"en": "GRPO group-normalised advantages", "zh": "GRPO 组内归一化优势"},
    solution=SOLUTION, docs=DOCS, hints=HINTS, real_code="minimind_notes/train/objectives.py: group_advantages",
    oracle={"group_advantages": group_advantages}, cases=cases, mistakes=MISTAKES,
)
