"""Causal scaled dot-product attention, written out: softmax(q k^T / sqrt(d) + causal mask) v."""

from __future__ import annotations

import torch

from minimind_notes.exercises.spec import Case, Exercise, Mistake
from minimind_notes.exercises.tensors import randn, tolerance
from minimind_notes.exercises.tiny import attention_forward, patch_attention, plugged_logits
from minimind_notes.model.attention import causal_mask, explicit_attention

SOLUTION = '''\
import math

import torch


def causal_attention(q, k, v):
    t = q.shape[-2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    allowed = torch.ones(t, t, dtype=torch.bool, device=q.device).tril()
    scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v
'''

DOCS = {"causal_attention": {
    "en": """Causal self-attention of q, k, v, each (B, n_heads, T, hd); returns (B, n_heads, T, hd).

    scores = q k^T / sqrt(hd), shape (B, n_heads, T, T); query i may attend to keys 0..i only (mask the
    future with -inf); softmax over the keys (the last dim),
    then weights @ v.""",
    "zh": """q、k、v 各为 (B, n_heads, T, hd) 的因果自注意力;返回 (B, n_heads, T, hd)。

    scores = q k^T / sqrt(hd),形状 (B, n_heads, T, T);第 i 个 query 只能看 0..i 的 key(未来位置填 -inf);
    沿 key 维(最后一维)做 softmax,再乘 v。""",
}}

HINTS = [
    {"en": "scores = q @ k.transpose(-2, -1): (B, h, T, hd) @ (B, h, hd, T) -> (B, h, T, T).",
     "zh": "scores = q @ k.transpose(-2, -1):(B, h, T, hd) @ (B, h, hd, T) -> (B, h, T, T)。"},
    {"en": "torch.ones(T, T).tril() is True on and below the diagonal: the positions each query may see.",
     "zh": "torch.ones(T, T).tril() 在对角线及其下方为 True:每个 query 能看到的位置。"},
    {"en": "Divide by math.sqrt(hd) before the softmax, which runs over dim=-1.",
     "zh": "softmax 之前除以 math.sqrt(hd);softmax 沿 dim=-1。"},
]

MISTAKES = [
    Mistake("mask_upper", ".tril()", ".triu()",
            {"en": "The mask is on the wrong side of the diagonal: query i may see keys 0..i (tril), not i..T-1.",
             "zh": "掩码放在了对角线的另一侧:第 i 个 query 能看 0..i(tril),不是 i..T-1。"}),
    Mistake("no_scale", " / math.sqrt(q.shape[-1])", "",
            {"en": "Missing 1/sqrt(d): divide the scores by sqrt(head_dim) so the softmax does not saturate.",
             "zh": "漏了 1/sqrt(d):分数要除以 sqrt(head_dim),否则 softmax 会饱和。"}),
    Mistake("scale_d", "math.sqrt(q.shape[-1])", "q.shape[-1]",
            {"en": "You divide by d; the scale is 1/sqrt(d).", "zh": "你除以的是 d;缩放因子是 1/sqrt(d)。"}),
    Mistake("softmax_dim", "dim=-1) @ v", "dim=-2) @ v",
            {"en": "Softmax over the wrong axis: each query's weights over the keys (the last dim) must sum to 1.",
             "zh": "softmax 的维度错了:每个 query 对所有 key(最后一维)的权重之和应为 1。"}),
]


def oracle(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return explicit_attention(q, k, v, causal_mask(q.shape[-2], k.shape[-2]))[0]


def cases():
    for dtype in (torch.float32, torch.bfloat16):
        for seed, shape in ((0, (2, 3, 6, 8)), (1, (1, 2, 9, 4)), (2, (3, 1, 5, 7))):
            yield Case(f"values {str(dtype)[6:]}, seed {seed}, shape {shape}", "causal_attention",
                       tuple(randn(*shape, seed=seed + i * 10, dtype=dtype) for i in range(3)), **tolerance(dtype))
    yield Case("edge: T = 1", "causal_attention", tuple(randn(2, 2, 1, 4, seed=i) for i in range(3)))
    yield Case("edge: large scores (hd = 64)", "causal_attention", tuple(randn(1, 2, 5, 64, seed=20 + i)
                                                                          for i in range(3)))


def grad_cases():
    yield Case("float64 (1, 2, 3, 4)", "causal_attention",
               tuple(randn(1, 2, 3, 4, seed=30 + i, dtype=torch.float64).requires_grad_() for i in range(3)))


def patch(model, ns):
    patch_attention(model, lambda m: lambda x, c, s: attention_forward(m, x, c, s, core=ns["causal_attention"]))


EXERCISE = Exercise(
    name="causal_attention", module="attention", minutes=20,
    title={"en": "Causal scaled dot-product attention", "zh": "因果缩放点积注意力"},
    solution=SOLUTION, docs=DOCS, hints=HINTS,
    real_code="minimind_notes/model/attention.py: explicit_attention, causal_mask",
    oracle={"causal_attention": oracle}, cases=cases, grad_cases=grad_cases, mistakes=MISTAKES,
    plug=lambda ns: plugged_logits(lambda model: patch(model, ns)), patch=patch,
)
