"""Top-p (nucleus) filtering: keep the smallest set of most likely tokens whose probability reaches p."""

from __future__ import annotations

import torch

from minimind_notes.exercises.spec import Case, Exercise, Mistake
from minimind_notes.exercises.tensors import randn
from minimind_notes.exercises.tiny import tiny_ids, tiny_model
from minimind_notes.model import generation
from minimind_notes.model.generation import SamplingConfig, filter_top_k_top_p, generate

SOLUTION = '''\
import torch


def top_p_filter(logits, top_p):
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
    probs = sorted_logits.softmax(dim=-1)
    drop = probs.cumsum(dim=-1) - probs >= top_p
    return logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
'''

DOCS = {"top_p_filter": {
    "en": """Nucleus filtering of logits (B, V) for 0 < top_p < 1; returns (B, V).

    Sort each row's tokens by probability (softmax of the logits), most likely first; keep tokens while the
    probability mass BEFORE them is below top_p (so the token that crosses top_p is kept, and the most likely
    token always is); set every other logit to -inf, at its original position.""",
    "zh": """对 logits (B, V) 做 nucleus(top-p)过滤,0 < top_p < 1;返回 (B, V)。

    把每行的 token 按概率(logits 的 softmax)从大到小排序;当排在它**之前**的概率和仍小于 top_p 时保留该 token
    (因此跨过 top_p 的那个 token 会被保留,最可能的 token 总会保留);其余 logit 设为 -inf,放回原来的位置。""",
}}

HINTS = [
    {"en": "torch.sort(logits, descending=True) gives the sorted values and `order`, their original positions.",
     "zh": "torch.sort(logits, descending=True) 给出排序后的值和 `order`(它们原来的位置)。"},
    {"en": "cumsum - probs is the mass before each token: drop a token when that is already >= top_p.",
     "zh": "cumsum - probs 是每个 token 之前的概率和:当它已经 >= top_p 时丢弃该 token。"},
    {"en": "mask.scatter(-1, order, mask) moves a mask from sorted order back to the vocabulary order.",
     "zh": "mask.scatter(-1, order, mask) 把排序顺序下的掩码放回词表顺序。"},
]

MISTAKES = [
    Mistake("drops_crossing", "probs.cumsum(dim=-1) - probs >= top_p", "probs.cumsum(dim=-1) > top_p",
            {"en": "You drop the token that crosses top_p (and with a small top_p even the most likely one): keep a "
                   "token while the mass BEFORE it is below top_p, drop = cumsum - probs >= top_p.",
             "zh": "你丢掉了跨过 top_p 的那个 token(top_p 很小时连最可能的也丢了):只要它**之前**的概率和小于 top_p "
                   "就保留,drop = cumsum - probs >= top_p。"}),
    Mistake("sorted_positions", "logits.masked_fill(drop.scatter(-1, order, drop)", "logits.masked_fill(drop",
            {"en": "Your mask is in sorted order but applied to the unsorted logits: scatter it back with `order`.",
             "zh": "你的掩码是排序后的顺序,却用在未排序的 logits 上:用 `order` 把它 scatter 回去。"}),
    Mistake("logits_not_probs", "probs = sorted_logits.softmax(dim=-1)", "probs = sorted_logits",
            {"en": "Accumulate probabilities (softmax of the logits), not the logits themselves.",
             "zh": "累加的是概率(logits 的 softmax),不是 logits 本身。"}),
]


def cases():
    for dtype in (torch.float32, torch.bfloat16):
        for seed, (b, v), p in ((0, (3, 17), 0.9), (1, (2, 50), 0.5), (2, (1, 8), 0.3)):
            yield Case(f"values {str(dtype)[6:]}, seed {seed}, logits ({b}, {v}), top_p {p}", "top_p_filter",
                       (randn(b, v, seed=seed, dtype=dtype, scale=2.0), p))
    yield Case("edge: top_p 0.01 keeps only the most likely token", "top_p_filter", (randn(2, 10, seed=3), 0.01))
    yield Case("edge: one dominant token (p = 0.99 of the mass)", "top_p_filter",
               (torch.tensor([[9.0, 0.0, 0.0, 1.0, 0.5]]), 0.6))


def plug(ns):
    """Sampling from the tiny model with the learner's filter draws the same tokens as `generate` (same seed)."""
    model, prompt = tiny_model(), tiny_ids(length=4)
    cfg = SamplingConfig(max_new_tokens=12, temperature=1.0, top_p=0.7, eos_token_id=None)

    def sample() -> torch.Tensor:
        return generate(model, prompt, cfg=cfg, generator=torch.Generator().manual_seed(0))

    expected = sample()
    real = generation.filter_top_k_top_p
    generation.filter_top_k_top_p = lambda logits, top_k, top_p: ns["top_p_filter"](logits, top_p)
    try:
        return expected, sample()
    finally:
        generation.filter_top_k_top_p = real


EXERCISE = Exercise(
    name="top_p", module="inference", minutes=15,
    title={"en": "Top-p (nucleus) sampling filter", "zh": "Top-p(nucleus)采样过滤"},
    solution=SOLUTION, docs=DOCS, hints=HINTS, real_code="minimind_notes/model/generation.py: filter_top_k_top_p",
    oracle={"top_p_filter": lambda logits, top_p: filter_top_k_top_p(logits, 0, top_p)}, cases=cases,
    mistakes=MISTAKES, plug=plug,
)
