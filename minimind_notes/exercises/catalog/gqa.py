"""Grouped-query multi-head attention: projections, RoPE, repeat_kv, causal attention, output projection."""

from __future__ import annotations

import torch

from minimind_notes.exercises.spec import Case, Exercise, Mistake
from minimind_notes.exercises.tensors import randn, tolerance
from minimind_notes.exercises.tiny import patch_attention, plugged_logits
from minimind_notes.model.attention import Attention, repeat_kv
from minimind_notes.model.config import MiniMindConfig
from minimind_notes.model.rope import precompute_freqs_cis

SOLUTION = '''\
import torch.nn.functional as F

from minimind_notes.model.rope import apply_rotary_pos_emb


def repeat_kv(x, n_rep):
    b, t, n_kv, hd = x.shape
    return x[:, :, :, None, :].expand(b, t, n_kv, n_rep, hd).reshape(b, t, n_kv * n_rep, hd)


def gqa_attention(x, wq, wk, wv, wo, n_heads, n_kv_heads, cos, sin):
    b, t, _ = x.shape
    hd = wq.shape[0] // n_heads
    q = (x @ wq.T).view(b, t, n_heads, hd)
    k = (x @ wk.T).view(b, t, n_kv_heads, hd)
    v = (x @ wv.T).view(b, t, n_kv_heads, hd)
    q, k = apply_rotary_pos_emb(q, k, cos, sin)
    k = repeat_kv(k, n_heads // n_kv_heads)
    v = repeat_kv(v, n_heads // n_kv_heads)
    y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True)
    return y.transpose(1, 2).reshape(b, t, n_heads * hd) @ wo.T
'''

DOCS = {
    "repeat_kv": {
        "en": """(B, T, n_kv, hd) -> (B, T, n_kv * n_rep, hd): each key/value head serves n_rep query heads.

        Head order: kv head j becomes heads j*n_rep .. j*n_rep + n_rep - 1 (each repeated in place,
        [h0, h0, h1, h1] for n_rep = 2, not [h0, h1, h0, h1]).""",
        "zh": """(B, T, n_kv, hd) -> (B, T, n_kv * n_rep, hd):每个 key/value 头服务 n_rep 个 query 头。

        头的顺序:第 j 个 kv 头变成第 j*n_rep .. j*n_rep + n_rep - 1 个头(原地重复,n_rep = 2 时是
        [h0, h0, h1, h1],不是 [h0, h1, h0, h1])。""",
    },
    "gqa_attention": {
        "en": """Causal grouped-query attention of x (B, T, C), as MiniMind's Attention (no cache, no padding).

        wq (n_heads*hd, C), wk and wv (n_kv_heads*hd, C), wo (C, n_heads*hd): weights of bias-free Linears
        (y = x @ w.T). cos, sin (T, hd). Steps: project to q (B, T, n_heads, hd), k and v (B, T, n_kv_heads, hd);
        rotate q and k with apply_rotary_pos_emb(q, k, cos, sin); repeat_kv k and v to n_heads; causal attention
        on (B, heads, T, hd) (F.scaled_dot_product_attention(..., is_causal=True) is fine); back to
        (B, T, n_heads*hd); output projection. Returns (B, T, C).""",
        "zh": """对 x (B, T, C) 做因果分组查询注意力,与 MiniMind 的 Attention 相同(无 cache、无 padding)。

        wq (n_heads*hd, C),wk 与 wv (n_kv_heads*hd, C),wo (C, n_heads*hd):无 bias 的 Linear 权重
        (y = x @ w.T)。cos、sin (T, hd)。步骤:投影得到 q (B, T, n_heads, hd)、k 与 v (B, T, n_kv_heads, hd);
        用 apply_rotary_pos_emb(q, k, cos, sin) 旋转 q、k;repeat_kv 把 k、v 扩到 n_heads 个头;
        在 (B, heads, T, hd) 上做因果注意力(可用 F.scaled_dot_product_attention(..., is_causal=True));
        变回 (B, T, n_heads*hd);输出投影。返回 (B, T, C)。""",
    },
}

HINTS = [
    {"en": "repeat_kv: insert an axis after the kv heads, expand it to n_rep, then reshape the two axes into one.",
     "zh": "repeat_kv:在 kv 头维后插入一维,expand 到 n_rep,再把两维 reshape 成一维。"},
    {"en": "Attention wants heads before time: q.transpose(1, 2) is (B, heads, T, hd).",
     "zh": "注意力要求 heads 在时间维之前:q.transpose(1, 2) 是 (B, heads, T, hd)。"},
    {"en": "After attention, transpose back to (B, T, heads, hd) before reshaping to (B, T, heads*hd).",
     "zh": "注意力之后先转回 (B, T, heads, hd),再 reshape 成 (B, T, heads*hd)。"},
]

MISTAKES = [
    Mistake("tile", "x[:, :, :, None, :].expand(b, t, n_kv, n_rep, hd).reshape(b, t, n_kv * n_rep, hd)",
            "x.repeat(1, 1, n_rep, 1)",
            {"en": "x.repeat tiles the heads as [h0, h1, h0, h1]: query heads 0 and 1 must share kv head 0 "
                   "([h0, h0, h1, h1]); use x[:, :, :, None].expand(...).reshape(...) or repeat_interleave on dim 2.",
             "zh": "x.repeat 把头平铺成 [h0, h1, h0, h1]:第 0、1 个 query 头应共用第 0 个 kv 头([h0, h0, h1, h1]);"
                   "用 x[:, :, :, None].expand(...).reshape(...) 或在第 2 维上 repeat_interleave。"}),
    Mistake("no_repeat", "    k = repeat_kv(k, n_heads // n_kv_heads)\n    v = repeat_kv(v, n_heads // n_kv_heads)\n",
            "",
            {"en": "Forgetting repeat_kv: k and v have n_kv_heads heads, q has n_heads; repeat k and v first.",
             "zh": "忘了 repeat_kv:k、v 只有 n_kv_heads 个头,q 有 n_heads 个;先重复 k 和 v。"}),
    Mistake("no_transpose_back", "y.transpose(1, 2).reshape(b, t, n_heads * hd)", "y.reshape(b, t, n_heads * hd)",
            {"en": "The output is (B, heads, T, hd): transpose(1, 2) back to (B, T, heads, hd) before the reshape, "
                   "or heads and positions get mixed.",
             "zh": "输出是 (B, heads, T, hd):reshape 之前先 transpose(1, 2) 回到 (B, T, heads, hd),"
                   "否则头和位置会混在一起。"}),
    Mistake("not_causal", "is_causal=True", "is_causal=False",
            {"en": "No causal mask: each position sees the future. Pass is_causal=True (or mask with tril).",
             "zh": "没有因果掩码:每个位置都看到了未来。传 is_causal=True(或用 tril 做掩码)。"}),
]


def oracle(x, wq, wk, wv, wo, n_heads, n_kv_heads, cos, sin):
    hd = wq.shape[0] // n_heads
    config = MiniMindConfig(hidden_size=x.shape[-1], num_attention_heads=n_heads, num_key_value_heads=n_kv_heads,
                            head_dim=hd)
    attn = Attention(config).to(x.dtype)
    for name, w in (("q_proj", wq), ("k_proj", wk), ("v_proj", wv), ("o_proj", wo)):
        getattr(attn, name).weight = torch.nn.Parameter(w, requires_grad=w.requires_grad)
    return attn(x, (cos, sin))[0]


def gqa_args(seed: int, b: int, t: int, c: int, heads: int, kv: int, dtype=torch.float32):
    hd = c // heads
    cos, sin = precompute_freqs_cis(hd, t)
    w = [randn(o, i, seed=seed + n, dtype=dtype, scale=i ** -0.5)
         for n, (o, i) in enumerate(((heads * hd, c), (kv * hd, c), (kv * hd, c), (c, heads * hd)))]
    return (randn(b, t, c, seed=seed, dtype=dtype), *w, heads, kv, cos.to(dtype), sin.to(dtype))


def cases():
    for seed, shape in ((0, (2, 5, 4, 8)), (1, (1, 3, 6, 12))):
        yield Case(f"repeat_kv seed {seed}, shape {shape}, n_rep 3", "repeat_kv", (randn(*shape, seed=seed), 3))
    yield Case("repeat_kv n_rep 1", "repeat_kv", (randn(2, 3, 2, 4, seed=2), 1))
    for dtype in (torch.float32, torch.bfloat16):
        for seed, (b, t, c, h, kv) in ((0, (2, 6, 32, 4, 2)), (1, (1, 5, 24, 6, 2)), (2, (3, 4, 16, 2, 2))):
            yield Case(f"gqa_attention {str(dtype)[6:]}, seed {seed}, B={b} T={t} C={c} heads={h}/{kv}",
                       "gqa_attention",
                       gqa_args(seed, b, t, c, h, kv, dtype), **tolerance(dtype))
    yield Case("edge: T = 1", "gqa_attention", gqa_args(3, 2, 1, 16, 4, 1))


def grad_cases():
    args = gqa_args(5, 1, 3, 8, 2, 1, torch.float64)
    yield Case("gqa_attention float64 B=1 T=3 C=8 heads 2/1", "gqa_attention",
               (args[0].requires_grad_(), args[1].requires_grad_(), *args[2:]))


def patch(model, ns):
    def make(m):
        return lambda x, cos, sin: ns["gqa_attention"](x, m.q_proj.weight, m.k_proj.weight, m.v_proj.weight,
                                                       m.o_proj.weight, m.n_heads, m.n_kv_heads, cos, sin)

    patch_attention(model, make)


EXERCISE = Exercise(
    name="gqa", module="attention", minutes=30,
    title={"en": "Grouped-query multi-head attention with repeat_kv", "zh": "带 repeat_kv 的分组查询多头注意力"},
    solution=SOLUTION, docs=DOCS, hints=HINTS,
    real_code="minimind_notes/model/attention.py: repeat_kv, Attention.forward",
    oracle={"repeat_kv": repeat_kv, "gqa_attention": oracle}, cases=cases, grad_cases=grad_cases, mistakes=MISTAKES,
    plug=lambda ns: plugged_logits(lambda model: patch(model, ns)), patch=patch,
)
