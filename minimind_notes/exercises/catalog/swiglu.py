"""SwiGLU feed-forward: down(silu(gate(x)) * up(x))."""

from __future__ import annotations

import torch

from minimind_notes.exercises.spec import Case, Exercise, Mistake
from minimind_notes.exercises.tensors import randn, tolerance
from minimind_notes.exercises.tiny import patch_modules, plugged_logits
from minimind_notes.model.config import MiniMindConfig
from minimind_notes.model.feedforward import FeedForward

SOLUTION = '''\
import torch.nn.functional as F


def swiglu(x, w_gate, w_up, w_down):
    return (F.silu(x @ w_gate.T) * (x @ w_up.T)) @ w_down.T
'''

DOCS = {"swiglu": {
    "en": """MiniMind's SwiGLU feed-forward of x (..., C); returns (..., C).

    w_gate and w_up (I, C), w_down (C, I): weights of bias-free Linears (y = x @ w.T).
    out = down(silu(gate(x)) * up(x)): the SiLU goes on the gate branch only.""",
    "zh": """MiniMind 的 SwiGLU 前馈层,输入 x (..., C),返回 (..., C)。

    w_gate、w_up 为 (I, C),w_down 为 (C, I):无 bias 的 Linear 权重(y = x @ w.T)。
    out = down(silu(gate(x)) * up(x)):SiLU 只作用在 gate 分支上。""",
}}

HINTS = [
    {"en": "Three matmuls: gate = x @ w_gate.T and up = x @ w_up.T are (..., I); down brings I back to C.",
     "zh": "三次矩阵乘:gate = x @ w_gate.T 与 up = x @ w_up.T 为 (..., I);down 把 I 变回 C。"},
    {"en": "silu(z) = z * sigmoid(z) (F.silu); it gates the up branch elementwise.",
     "zh": "silu(z) = z * sigmoid(z)(F.silu);它逐元素地给 up 分支加门控。"},
]

MISTAKES = [
    Mistake("silu_on_up", "F.silu(x @ w_gate.T) * (x @ w_up.T)", "(x @ w_gate.T) * F.silu(x @ w_up.T)",
            {"en": "The SiLU is on the up branch: it belongs on the gate branch, silu(x @ w_gate.T) * (x @ w_up.T).",
             "zh": "SiLU 放到了 up 分支上:它应在 gate 分支,silu(x @ w_gate.T) * (x @ w_up.T)。"}),
    Mistake("relu", "F.silu(", "F.relu(",
            {"en": "ReLU is not SwiGLU's activation: use SiLU, z * sigmoid(z).",
             "zh": "SwiGLU 的激活不是 ReLU:用 SiLU,z * sigmoid(z)。"}),
    Mistake("sigmoid", "F.silu(", "F.sigmoid(",
            {"en": "sigmoid(gate) * up is the original GLU; SwiGLU uses silu(gate) = gate * sigmoid(gate).",
             "zh": "sigmoid(gate) * up 是原始的 GLU;SwiGLU 用 silu(gate) = gate * sigmoid(gate)。"}),
]


def oracle(x, w_gate, w_up, w_down):
    ff = FeedForward(MiniMindConfig(hidden_size=x.shape[-1], intermediate_size=w_gate.shape[0],
                                    num_attention_heads=1, num_key_value_heads=1)).to(x.dtype)
    for name, w in (("gate_proj", w_gate), ("up_proj", w_up), ("down_proj", w_down)):
        getattr(ff, name).weight = torch.nn.Parameter(w, requires_grad=w.requires_grad)
    return ff(x)


def ffn_args(seed, shape, inner, dtype=torch.float32):
    c = shape[-1]
    return (randn(*shape, seed=seed, dtype=dtype), randn(inner, c, seed=seed + 1, dtype=dtype, scale=c ** -0.5),
            randn(inner, c, seed=seed + 2, dtype=dtype, scale=c ** -0.5),
            randn(c, inner, seed=seed + 3, dtype=dtype, scale=inner ** -0.5))


def cases():
    for dtype in (torch.float32, torch.bfloat16):
        for seed, shape, inner in ((0, (2, 5, 8), 24), (1, (3, 16), 40), (2, (1, 1, 6), 10)):
            yield Case(f"values {str(dtype)[6:]}, seed {seed}, x {shape}, inner {inner}", "swiglu",
                       ffn_args(seed, shape, inner, dtype), **tolerance(dtype))


def grad_cases():
    args = ffn_args(4, (1, 2, 4), 6, torch.float64)
    yield Case("float64 x (1, 2, 4), inner 6", "swiglu", tuple(a.requires_grad_() for a in args))


def patch(model, ns):
    patch_modules(model, FeedForward, lambda m: lambda x: ns["swiglu"](
        x, m.gate_proj.weight, m.up_proj.weight, m.down_proj.weight))


EXERCISE = Exercise(
    name="swiglu", module="feedforward", minutes=10,
    title={"en": "SwiGLU feed-forward", "zh": "SwiGLU 前馈层"},
    solution=SOLUTION, docs=DOCS, hints=HINTS, real_code="minimind_notes/model/feedforward.py: FeedForward",
    oracle={"swiglu": oracle}, cases=cases, grad_cases=grad_cases, mistakes=MISTAKES,
    plug=lambda ns: plugged_logits(lambda model: patch(model, ns)), patch=patch,
)
