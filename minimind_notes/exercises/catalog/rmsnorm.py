"""RMSNorm: scale each vector to unit root-mean-square, then by a learned weight."""

from __future__ import annotations

import torch

from minimind_notes.exercises.spec import Case, Exercise, Mistake
from minimind_notes.exercises.tensors import randn, tolerance
from minimind_notes.exercises.tiny import patch_modules, plugged_logits
from minimind_notes.model.norm import RMSNorm

SOLUTION = '''\
import torch


def rms_norm(x, weight, eps=1e-5):
    x32 = x.to(torch.promote_types(x.dtype, torch.float32))  # bf16 -> fp32, fp64 stays fp64
    normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return weight * normed.type_as(x)
'''

DOCS = {"rms_norm": {
    "en": """RMSNorm of x over its last dimension, scaled by weight.

    x: (..., C), float32 or bfloat16; weight: (C,); returns (..., C).
    y = weight * x / sqrt(mean(x^2 over the last dim) + eps)
    Conventions (MiniMind's): no mean is subtracted and there is no bias; eps goes INSIDE the square root;
    compute in float32 (float64 input stays float64: x.to(torch.promote_types(x.dtype, torch.float32))),
    cast the normalised x back to x's dtype, then multiply by weight.""",
    "zh": """对 x 的最后一维做 RMSNorm,再乘以 weight。

    x: (..., C),float32 或 bfloat16;weight: (C,);返回 (..., C)。
    y = weight * x / sqrt(mean(x^2,沿最后一维) + eps)
    约定(与 MiniMind 一致):不减均值,没有 bias;eps 放在平方根**里面**;
    用 float32 计算(float64 输入保持 float64:x.to(torch.promote_types(x.dtype, torch.float32))),
    把归一化后的 x 转回 x 原来的 dtype,再乘 weight。""",
}}

HINTS = [
    {"en": "RMS = sqrt(mean(x**2)) over the last dimension: x.pow(2).mean(-1, keepdim=True).",
     "zh": "RMS = sqrt(mean(x**2)),沿最后一维:x.pow(2).mean(-1, keepdim=True)。"},
    {"en": "torch.rsqrt(ms + eps) is 1 / sqrt(ms + eps): eps inside the root keeps tiny vectors finite.",
     "zh": "torch.rsqrt(ms + eps) 就是 1 / sqrt(ms + eps):eps 在根号里,极小的向量也不会除出无穷大。"},
    {"en": "For bf16 input: x32 = x.to(torch.promote_types(x.dtype, torch.float32)), normalise x32, "
           ".type_as(x), then multiply by weight.",
     "zh": "bf16 输入:x32 = x.to(torch.promote_types(x.dtype, torch.float32)),归一化 x32,"
           "再 .type_as(x),最后乘 weight。"},
]

MISTAKES = [
    Mistake("layernorm", "    normed = x32 *", "    x32 = x32 - x32.mean(-1, keepdim=True)\n    normed = x32 *",
            {"en": "You subtract the mean: that is LayerNorm. RMSNorm only divides by the root mean square.",
             "zh": "你减去了均值:那是 LayerNorm。RMSNorm 只除以均方根。"}),
    Mistake("wrong_dim", ".mean(-1, keepdim=True)", ".mean(0, keepdim=True)",
            {"en": "You normalise over the wrong dimension: the mean of squares runs over the last one (features), "
                   "per token.",
             "zh": "归一化的维度错了:平方的均值要沿最后一维(特征维)算,每个 token 各自归一化。"}),
    Mistake("eps_outside", "torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)",
            "1 / (x32.pow(2).mean(-1, keepdim=True).sqrt() + eps)",
            {"en": "eps is outside the square root: MiniMind computes rsqrt(mean(x^2) + eps).",
             "zh": "eps 放在了平方根外面:MiniMind 算的是 rsqrt(mean(x^2) + eps)。"}),
    Mistake("no_weight", "return weight * normed.type_as(x)", "return normed.type_as(x)",
            {"en": "The learned weight is missing: multiply the normalised x by weight.",
             "zh": "漏了可学习的 weight:归一化之后要乘以 weight。"}),
]


def oracle(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    norm = RMSNorm(weight.shape[0], eps)
    norm.weight = torch.nn.Parameter(weight, requires_grad=weight.requires_grad)
    return norm(x)


def cases():
    for dtype in (torch.float32, torch.bfloat16):
        for seed, shape in ((0, (2, 5, 8)), (1, (3, 7)), (2, (1, 1, 16))):
            c = shape[-1]
            yield Case(f"values {str(dtype)[6:]}, seed {seed}, shape {shape}", "rms_norm",
                       (randn(*shape, seed=seed, dtype=dtype), randn(c, seed=seed + 10), 1e-5), **tolerance(dtype))
    yield Case("edge: tiny inputs (|x| ~ 1e-3, where eps matters)", "rms_norm",
               (randn(2, 4, 8, seed=3, scale=1e-3), randn(8, seed=4), 1e-5))
    yield Case("edge: odd size C = 5, eps = 1e-6", "rms_norm", (randn(1, 3, 5, seed=5), randn(5, seed=6), 1e-6))


def grad_cases():
    yield Case("float64 (1, 3, 4)", "rms_norm", (randn(1, 3, 4, seed=7, dtype=torch.float64).requires_grad_(),
                                                randn(4, seed=8, dtype=torch.float64).requires_grad_(), 1e-5))


def patch(model, ns):
    patch_modules(model, RMSNorm, lambda m: lambda x: ns["rms_norm"](x, m.weight, m.eps))


EXERCISE = Exercise(
    name="rmsnorm", module="normalization", minutes=15,
    title={"en": "RMSNorm", "zh": "RMSNorm"},
    solution=SOLUTION, docs=DOCS, hints=HINTS, real_code="minimind_notes/model/norm.py: RMSNorm",
    oracle={"rms_norm": oracle}, cases=cases, grad_cases=grad_cases, mistakes=MISTAKES,
    plug=lambda ns: plugged_logits(lambda model: patch(model, ns)), patch=patch,
)
