"""One KV-cache decoding step: append this token's key and value, attend the one new query to all of them."""

from __future__ import annotations

import torch

from minimind_notes.exercises.spec import Case, Exercise, Mistake
from minimind_notes.exercises.tensors import randn, tolerance
from minimind_notes.exercises.tiny import patch_modules, tiny_ids, tiny_model
from minimind_notes.model.attention import Attention, causal_mask, explicit_attention, repeat_kv
from minimind_notes.model.rope import apply_rotary_pos_emb

SOLUTION = '''\
import math

import torch


def decode_step(q, k_new, v_new, cache_k, cache_v):
    cache_k = torch.cat([cache_k, k_new], dim=2)
    cache_v = torch.cat([cache_v, v_new], dim=2)
    scores = q @ cache_k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    out = torch.softmax(scores, dim=-1) @ cache_v
    return out, cache_k, cache_v
'''

DOCS = {"decode_step": {
    "en": """One decoding step with a KV cache.

    q, k_new, v_new: (B, heads, 1, hd), the new token's query, key and value; cache_k, cache_v: (B, heads, T_past, hd),
    the keys and values of the earlier tokens (T_past may be 0). Append the new key and value to the caches along
    the time axis, attend the query to all T_past + 1 keys (softmax(q k^T / sqrt(hd)) v), and return
    (out (B, heads, 1, hd), new cache_k, new cache_v), the caches (B, heads, T_past + 1, hd).""",
    "zh": """带 KV cache 的一步解码。

    q、k_new、v_new:(B, heads, 1, hd),新 token 的 query、key、value;cache_k、cache_v:(B, heads, T_past, hd),
    之前各 token 的 key 与 value(T_past 可以为 0)。沿时间维把新的 key、value 追加进 cache,让 query 关注全部
    T_past + 1 个 key(softmax(q k^T / sqrt(hd)) v),返回 (out (B, heads, 1, hd), 新 cache_k, 新 cache_v),
    新 cache 为 (B, heads, T_past + 1, hd)。""",
}}

HINTS = [
    {"en": "torch.cat([cache_k, k_new], dim=2): time is axis 2 in (B, heads, T, hd).",
     "zh": "torch.cat([cache_k, k_new], dim=2):在 (B, heads, T, hd) 中时间是第 2 维。"},
    {"en": "The newest token may see every earlier one: a single query row needs no mask at all.",
     "zh": "最新的 token 可以看到之前所有 token:只有一行 query 时根本不需要掩码。"},
]

MISTAKES = [
    Mistake("square_mask", "    out = torch.softmax(",
            "    square = torch.ones(1, scores.shape[-1], dtype=torch.bool).tril()\n"
            "    scores = scores.masked_fill(~square, float('-inf'))\n"
            "    out = torch.softmax(",
            {"en": "Your mask hides the cached keys: with one new query, the causal mask's row is the LAST row of the "
                   "square mask (all True), not the first; a single decoding step needs no mask.",
             "zh": "你的掩码遮住了缓存的 key:只有一个新 query 时,因果掩码对应方阵的**最后**一行(全为 True),"
                   "不是第一行;单步解码不需要掩码。"}),
    Mistake("no_append",
            "    cache_k = torch.cat([cache_k, k_new], dim=2)\n    cache_v = torch.cat([cache_v, v_new], dim=2)\n",
            "    cache_k = torch.cat([cache_k, k_new[..., :0, :]], dim=2)\n"
            "    cache_v = torch.cat([cache_v, v_new[..., :0, :]], dim=2)\n",
            {"en": "The new token's key and value are not in the cache: append them before attending (the token "
                   "attends to itself too).",
             "zh": "新 token 的 key、value 没有放进 cache:先追加再做注意力(token 也要关注它自己)。"}),
    Mistake("only_new", "    scores = q @ cache_k.transpose(-2, -1)", "    scores = q @ k_new.transpose(-2, -1)",
            {"en": "You attend to the new key only: the query must see the whole cache.",
             "zh": "你只关注了新的 key:query 要看到整个 cache。"}),
]


def oracle(q, k_new, v_new, cache_k, cache_v):
    k, v = torch.cat([cache_k, k_new], dim=2), torch.cat([cache_v, v_new], dim=2)
    return explicit_attention(q, k, v, causal_mask(1, k.shape[2]))[0], k, v


def step_args(seed, b, h, past, hd, dtype=torch.float32):
    return tuple(randn(b, h, n, hd, seed=seed + i, dtype=dtype) for i, n in enumerate((1, 1, 1, past, past)))


def cases():
    for dtype in (torch.float32, torch.bfloat16):
        for seed, (b, h, past, hd) in ((0, (2, 3, 5, 8)), (10, (1, 2, 1, 4)), (20, (3, 1, 9, 6))):
            yield Case(f"values {str(dtype)[6:]}, seed {seed}, B={b} heads={h} T_past={past} hd={hd}", "decode_step",
                       step_args(seed, b, h, past, hd, dtype), **tolerance(dtype))
    yield Case("edge: empty cache (the first token)", "decode_step", step_args(30, 2, 2, 0, 4))


def grad_cases():
    args = step_args(40, 1, 2, 3, 4, torch.float64)
    yield Case("float64 B=1 heads=2 T_past=3 hd=4", "decode_step", tuple(a.requires_grad_() for a in args))


def patch(model, ns):
    """Every Attention, in cached decoding (one token at a time), runs the learner's step."""
    def forward(m):
        def attention(x, position_embeddings, past_key_value=None, use_cache=False, attn_mask=None,
                      output_attentions=False):
            b, t, _ = x.shape
            q = m.q_proj(x).view(b, t, m.n_heads, m.head_dim)
            k = m.k_proj(x).view(b, t, m.n_kv_heads, m.head_dim)
            v = m.v_proj(x).view(b, t, m.n_kv_heads, m.head_dim)
            q, k = apply_rotary_pos_emb(q, k, *position_embeddings)
            past_k, past_v = past_key_value or (k[:, :0], v[:, :0])  # (B, T_past, n_kv, hd)
            heads = lambda a: repeat_kv(a, m.n_rep).transpose(1, 2)  # noqa: E731  (B, heads, T, hd)
            y, cache_k, _ = ns["decode_step"](q.transpose(1, 2), heads(k), heads(v), heads(past_k), heads(past_v))
            present = (torch.cat([past_k, k], 1), torch.cat([past_v, v], 1))
            if cache_k.shape[2] != present[0].shape[1]:
                raise ValueError(f"decode_step returned a cache of {cache_k.shape[2]} positions, expected "
                                 f"{present[0].shape[1]}")
            return m.o_proj(y.transpose(1, 2).reshape(b, t, -1)), present, None

        return attention

    patch_modules(model, Attention, forward)


def plug(ns):
    """Logits of token-by-token cached decoding with the learner's step = the real model's full forward."""
    model = tiny_model()
    input_ids = tiny_ids()
    with torch.no_grad():
        expected = model(input_ids).logits
        patch(model, ns)
        past, logits = None, []
        for i in range(input_ids.shape[1]):
            out = model(input_ids[:, i:i + 1], past_key_values=past, use_cache=True)
            past = out.past_key_values
            logits.append(out.logits)
        return expected, torch.cat(logits, dim=1)


EXERCISE = Exercise(
    name="kv_cache", module="inference", minutes=20,
    title={"en": "One KV-cache decoding step", "zh": "KV cache 的一步解码"},
    solution=SOLUTION, docs=DOCS, hints=HINTS,
    real_code="minimind_notes/model/attention.py: Attention.forward (past_key_value); generation.py: stream_generate",
    oracle={"decode_step": oracle}, cases=cases, grad_cases=grad_cases, mistakes=MISTAKES, plug=plug,
)
