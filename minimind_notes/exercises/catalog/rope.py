"""RoPE: the cos/sin tables (rotate-half layout) and rotating q and k with them."""

from __future__ import annotations

import torch

from minimind_notes.exercises.spec import Case, Exercise, Mistake
from minimind_notes.exercises.tensors import randn, tolerance
from minimind_notes.exercises.tiny import attention_forward, patch_attention, plugged_logits
from minimind_notes.model import rope as real

SOLUTION = '''\
import torch


def rope_cos_sin(dim, end, base=1e6):
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
    angles = torch.outer(torch.arange(end).float(), freqs)
    cos = torch.cat([angles.cos(), angles.cos()], dim=-1)
    sin = torch.cat([angles.sin(), angles.sin()], dim=-1)
    return cos, sin


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(q, k, cos, sin):
    cos, sin = cos[:, None, :], sin[:, None, :]
    return (q * cos + rotate_half(q) * sin).to(q.dtype), (k * cos + rotate_half(k) * sin).to(k.dtype)
'''

DOCS = {
    "rope_cos_sin": {
        "en": """The cos and sin tables of rotary position embedding, each (end, dim) float32.

        Pair i (of dim/2) turns at frequency base^(-2i/dim); position m turns it by m * freq_i.
        MiniMind's rotate-half layout: the dim/2 angles are concatenated twice, [a_0..a_{d/2-1}, a_0..a_{d/2-1}]
        (not interleaved a_0, a_0, a_1, a_1, ...).""",
        "zh": """旋转位置编码的 cos 与 sin 表,各为 (end, dim) 的 float32。

        第 i 对(共 dim/2 对)的频率是 base^(-2i/dim);位置 m 把它旋转 m * freq_i。
        MiniMind 用 rotate-half 布局:dim/2 个角度整体拼接两次,[a_0..a_{d/2-1}, a_0..a_{d/2-1}]
        (不是交错的 a_0, a_0, a_1, a_1, ...)。""",
    },
    "rotate_half": {
        "en": """(x1, x2) -> (-x2, x1), where x1 and x2 are the two halves of the last dimension.""",
        "zh": """(x1, x2) -> (-x2, x1),x1 与 x2 是最后一维的前后两半。""",
    },
    "apply_rope": {
        "en": """Rotate q (B, T, n_heads, hd) and k (B, T, n_kv_heads, hd) by cos, sin (T, hd).

        q_rot = q * cos + rotate_half(q) * sin (cos and sin broadcast over the heads axis), same for k.
        Return (q_rot, k_rot) in q's and k's dtypes.""",
        "zh": """用 cos、sin (T, hd) 旋转 q (B, T, n_heads, hd) 和 k (B, T, n_kv_heads, hd)。

        q_rot = q * cos + rotate_half(q) * sin(cos、sin 在 heads 维上广播),k 同理。
        返回 (q_rot, k_rot),dtype 与 q、k 各自相同。""",
    },
}

HINTS = [
    {"en": "freqs = 1 / base ** (torch.arange(0, dim, 2) / dim): one frequency per pair, dim/2 of them.",
     "zh": "freqs = 1 / base ** (torch.arange(0, dim, 2) / dim):每对一个频率,共 dim/2 个。"},
    {"en": "angles = torch.outer(positions, freqs) is (end, dim/2); cat it with itself for the rotate-half layout.",
     "zh": "angles = torch.outer(positions, freqs) 是 (end, dim/2);与自己拼接得到 rotate-half 布局。"},
    {"en": "cos[:, None, :] turns (T, hd) into (T, 1, hd), which broadcasts over (B, T, heads, hd).",
     "zh": "cos[:, None, :] 把 (T, hd) 变成 (T, 1, hd),可在 (B, T, heads, hd) 上广播。"},
]

MISTAKES = [
    Mistake("interleaved", "return torch.cat((-x[..., half:], x[..., :half]), dim=-1)",
            "return torch.stack((-x[..., 1::2], x[..., ::2]), dim=-1).flatten(-2)",
            {"en": "You rotate interleaved pairs (x0, x1), (x2, x3), ...: MiniMind pairs dimension i with i + d/2 "
                   "(rotate-half): cat(-x2, x1) of the two halves.",
             "zh": "你旋转的是相邻的 (x0, x1)、(x2, x3)...(交错布局):MiniMind 把第 i 维与第 i + d/2 维配对"
                   "(rotate-half):两半拼成 cat(-x2, x1)。"}),
    Mistake("sign", "return torch.cat((-x[..., half:], x[..., :half]), dim=-1)",
            "return torch.cat((x[..., half:], -x[..., :half]), dim=-1)",
            {"en": "The minus sign is on the wrong half: rotate_half(x1, x2) = (-x2, x1).",
             "zh": "负号放错了半边:rotate_half(x1, x2) = (-x2, x1)。"}),
    Mistake("interleaved_table", "cos = torch.cat([angles.cos(), angles.cos()], dim=-1)",
            "cos = angles.cos().repeat_interleave(2, dim=-1)",
            {"en": "Your table repeats each angle twice in a row (interleaved layout); rotate-half concatenates the "
                   "dim/2 angles twice: cat([a, a], dim=-1).",
             "zh": "你的表把每个角度连续重复两次(交错布局);rotate-half 是把 dim/2 个角度整体拼接两次:"
                   "cat([a, a], dim=-1)。"}),
    Mistake("exponent", "torch.arange(0, dim, 2).float() / dim", "torch.arange(0, dim // 2).float() / dim",
            {"en": "The frequency exponent is 2i/dim for pair i (torch.arange(0, dim, 2) / dim), not i/dim.",
             "zh": "第 i 对频率的指数是 2i/dim(torch.arange(0, dim, 2) / dim),不是 i/dim。"}),
    Mistake("no_heads_axis", "cos, sin = cos[:, None, :], sin[:, None, :]", "cos, sin = cos[None], sin[None]",
            {"en": "cos is (T, hd) and q is (B, T, heads, hd): add the heads axis, cos[:, None, :], so it broadcasts.",
             "zh": "cos 是 (T, hd),q 是 (B, T, heads, hd):插入 heads 维 cos[:, None, :] 才能正确广播。"}),
]


def real_tables(dim: int, end: int, base: float = 1e6) -> tuple[torch.Tensor, torch.Tensor]:
    return real.precompute_freqs_cis(dim, end, base)


def cases():
    for dim, end, base in ((8, 6, 1e6), (16, 11, 1e4), (2, 1, 1e6)):
        yield Case(f"tables dim {dim}, end {end}, base {base:g}", "rope_cos_sin", (dim, end, base))
    for seed, shape in ((0, (2, 5, 8)), (1, (1, 3, 2, 6))):
        yield Case(f"rotate_half seed {seed}, shape {shape}", "rotate_half", (randn(*shape, seed=seed),))
    for dtype in (torch.float32, torch.bfloat16):
        for seed, (b, t, h, kv, hd) in ((0, (2, 6, 4, 2, 8)), (1, (1, 1, 2, 1, 4)), (2, (3, 7, 3, 3, 6))):
            cos, sin = real_tables(hd, t)
            yield Case(f"apply_rope {str(dtype)[6:]}, seed {seed}, B={b} T={t} heads={h}/{kv} hd={hd}", "apply_rope",
                       (randn(b, t, h, hd, seed=seed, dtype=dtype), randn(b, t, kv, hd, seed=seed + 1, dtype=dtype),
                        cos, sin), **tolerance(dtype))


def grad_cases():
    cos, sin = (t.double() for t in real_tables(4, 3))
    yield Case("apply_rope float64 (1, 3, 2, 4)", "apply_rope",
               (randn(1, 3, 2, 4, seed=3, dtype=torch.float64).requires_grad_(),
                randn(1, 3, 1, 4, seed=4, dtype=torch.float64).requires_grad_(), cos, sin))


def patch(model, ns):
    cos, sin = ns["rope_cos_sin"](model.config.head_dim, model.config.max_position_embeddings, model.config.rope_theta)
    model.model.freqs_cos, model.model.freqs_sin = cos, sin
    patch_attention(model, lambda m: lambda x, c, s: attention_forward(m, x, c, s, rope=ns["apply_rope"]))


EXERCISE = Exercise(
    name="rope", module="position-encoding", minutes=25,
    title={"en": "RoPE: frequencies and rotation (rotate-half)", "zh": "RoPE:频率与旋转(rotate-half)"},
    solution=SOLUTION, docs=DOCS, hints=HINTS,
    real_code="minimind_notes/model/rope.py: precompute_freqs_cis, rotate_half, apply_rotary_pos_emb",
    oracle={"rope_cos_sin": real_tables, "rotate_half": real.rotate_half, "apply_rope": real.apply_rotary_pos_emb},
    cases=cases, grad_cases=grad_cases, mistakes=MISTAKES,
    plug=lambda ns: plugged_logits(lambda model: patch(model, ns)), patch=patch,
)
