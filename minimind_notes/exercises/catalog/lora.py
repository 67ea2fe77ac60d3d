"""A LoRA linear layer, W x + (alpha / r) B A x, and merging the update into W."""

from __future__ import annotations

import torch
from torch import nn

from minimind_notes.exercises.spec import Case, Exercise, Mistake
from minimind_notes.exercises.tensors import randn, tolerance
from minimind_notes.exercises.tiny import patch_modules, tiny_ids, tiny_model
from minimind_notes.model.lora import LoRALinear, apply_lora, merge_lora

SOLUTION = '''\
def lora_forward(x, weight, lora_A, lora_B, alpha):
    scaling = alpha / lora_A.shape[0]
    return x @ weight.T + scaling * ((x @ lora_A.T) @ lora_B.T)


def merge_lora(weight, lora_A, lora_B, alpha):
    return weight + (alpha / lora_A.shape[0]) * (lora_B @ lora_A)
'''

DOCS = {
    "lora_forward": {
        "en": """A LoRA linear layer on x (..., in); returns (..., out).

        weight (out, in) is the frozen base; lora_A (r, in) and lora_B (out, r) the trainable update; the rank r is
        lora_A.shape[0]. y = x W^T + (alpha / r) * x A^T B^T. Multiply x by A first: (x A^T) is only r wide.""",
        "zh": """对 x (..., in) 的 LoRA 线性层;返回 (..., out)。

        weight (out, in) 是冻结的基座;lora_A (r, in) 与 lora_B (out, r) 是可训练的更新;秩 r 为 lora_A.shape[0]。
        y = x W^T + (alpha / r) * x A^T B^T。先乘 A:(x A^T) 只有 r 宽。""",
    },
    "merge_lora": {
        "en": """The merged weight (out, in) for inference: W + (alpha / r) * B A,
        so that x @ merged.T == lora_forward(x).""",
        "zh": """推理用的合并权重 (out, in):W + (alpha / r) * B A,使 x @ merged.T == lora_forward(x)。""",
    },
}

HINTS = [
    {"en": "B A is (out, r) @ (r, in) = (out, in): the same shape as W.",
     "zh": "B A 是 (out, r) @ (r, in) = (out, in):与 W 同形。"},
    {"en": "The scale is alpha / r, in the forward and in the merge alike.",
     "zh": "缩放是 alpha / r,前向与合并都一样。"},
]

MISTAKES = [
    Mistake("alpha_only", "scaling = alpha / lora_A.shape[0]", "scaling = alpha",
            {"en": "The update is scaled by alpha / r (r = lora_A.shape[0]), not by alpha.",
             "zh": "更新的缩放是 alpha / r(r = lora_A.shape[0]),不是 alpha。"}),
    Mistake("merge_transposed", "(lora_B @ lora_A)", "(lora_A.T @ lora_B.T)",
            {"en": "The merged update is B @ A, shape (out, in) like W; A^T B^T is its transpose.",
             "zh": "合并的更新是 B @ A,形状 (out, in),与 W 相同;A^T B^T 是它的转置。"}),
    Mistake("merge_unscaled", "weight + (alpha / lora_A.shape[0]) * (lora_B @ lora_A)", "weight + lora_B @ lora_A",
            {"en": "The merge forgets the scale: W + (alpha / r) * B A, the same update the forward adds.",
             "zh": "合并时漏了缩放:W + (alpha / r) * B A,与前向加上的更新相同。"}),
]


def lora_layer(weight, lora_A, lora_B, alpha) -> LoRALinear:
    base = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    base.weight = nn.Parameter(weight, requires_grad=weight.requires_grad)
    layer = LoRALinear(base, rank=lora_A.shape[0], alpha=alpha)
    layer.lora_A = nn.Parameter(lora_A, requires_grad=lora_A.requires_grad)
    layer.lora_B = nn.Parameter(lora_B, requires_grad=lora_B.requires_grad)
    return layer


def real_merge(weight, lora_A, lora_B, alpha):
    holder = nn.Sequential(lora_layer(weight.clone(), lora_A, lora_B, alpha))
    merge_lora(holder)
    return holder[0].weight


def lora_args(seed, shape, out, rank, alpha, dtype=torch.float32):
    i = shape[-1]
    return (randn(*shape, seed=seed, dtype=dtype), randn(out, i, seed=seed + 1, dtype=dtype, scale=i ** -0.5),
            randn(rank, i, seed=seed + 2, dtype=dtype, scale=0.3), randn(out, rank, seed=seed + 3, dtype=dtype,
                                                                        scale=0.3), alpha)


def cases():
    for dtype in (torch.float32, torch.bfloat16):
        for seed, shape, out, rank, alpha in ((0, (2, 5, 8), 12, 4, 16.0), (10, (3, 6), 6, 2, 8.0),
                                              (20, (1, 1, 7), 5, 1, 1.0)):
            args = lora_args(seed, shape, out, rank, alpha, dtype)
            yield Case(f"forward {str(dtype)[6:]}, seed {seed}, x {shape}, out {out}, r {rank}, alpha {alpha:g}",
                       "lora_forward", args, **tolerance(dtype))
            yield Case(f"merge {str(dtype)[6:]}, seed {seed}, W ({out}, {shape[-1]}), r {rank}", "merge_lora", args[1:],
                       **tolerance(dtype))


def grad_cases():
    args = lora_args(30, (1, 2, 4), 3, 2, 4.0, torch.float64)
    yield Case("forward float64 x (1, 2, 4), r 2", "lora_forward", (*(a.requires_grad_() for a in args[:4]), args[4]))


def patch(model, ns):
    patch_modules(model, LoRALinear, lambda m: lambda x: ns["lora_forward"](x, m.weight, m.lora_A, m.lora_B, m.alpha))


def plug(ns):
    """A tiny model with LoRA adapters (B nonzero): the learner's forward, then its merge, give the real logits."""
    model = tiny_model()
    apply_lora(model, rank=4, alpha=8.0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, LoRALinear):
                m.lora_B.normal_(std=0.5)
    ids = tiny_ids()
    with torch.no_grad():
        expected = model(ids).logits
        learner = [m for m in model.modules() if isinstance(m, LoRALinear)]
        merged_weights = [ns["merge_lora"](m.weight, m.lora_A, m.lora_B, m.alpha) for m in learner]
        patch(model, ns)
        got_forward = model(ids).logits
        for m, w in zip(learner, merged_weights, strict=True):
            m.forward = lambda x, w=w: x @ w.T
        return torch.cat([expected, expected]), torch.cat([got_forward, model(ids).logits])


EXERCISE = Exercise(
    name="lora", module="sft-lora", minutes=20,
    title={"en": "A LoRA linear layer and its merge", "zh": "LoRA 线性层及其合并"},
    solution=SOLUTION, docs=DOCS, hints=HINTS, real_code="minimind_notes/model/lora.py: LoRALinear, merge_lora",
    oracle={"lora_forward": lambda x, weight, lora_A, lora_B, alpha: lora_layer(weight, lora_A, lora_B, alpha)(x),
            "merge_lora": real_merge},
    cases=cases, grad_cases=grad_cases, mistakes=MISTAKES, plug=plug,
)
