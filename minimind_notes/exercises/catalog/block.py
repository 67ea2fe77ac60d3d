"""The pre-norm transformer block: h = x + attn(norm1(x)); out = h + mlp(norm2(h))."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from minimind_notes.exercises.spec import Case, Exercise, Mistake
from minimind_notes.exercises.tensors import randn, tolerance
from minimind_notes.exercises.tiny import patch_modules, plugged_logits
from minimind_notes.model.block import MiniMindBlock
from minimind_notes.model.norm import RMSNorm

SOLUTION = '''\
def block_forward(x, attn, mlp, norm1, norm2):
    h = x + attn(norm1(x))
    return h + mlp(norm2(h))
'''

DOCS = {"block_forward": {
    "en": """One pre-norm decoder block on x (B, T, C); returns (B, T, C).

    attn, mlp, norm1, norm2 are callables (B, T, C) -> (B, T, C): the attention, the feed-forward and the two
    RMSNorms. Pre-norm: each sub-layer sees a normalised copy of the residual stream and adds its output back;
    the residual path itself is never normalised.""",
    "zh": """对 x (B, T, C) 做一个 pre-norm 解码块;返回 (B, T, C)。

    attn、mlp、norm1、norm2 都是 (B, T, C) -> (B, T, C) 的可调用对象:注意力、前馈层与两个 RMSNorm。
    Pre-norm:每个子层看到的是残差流归一化后的副本,并把输出加回残差流;残差通路本身从不归一化。""",
}}

HINTS = [
    {"en": "Two residual additions: x + attn(...), then h + mlp(...).",
     "zh": "两次残差相加:x + attn(...),然后 h + mlp(...)。"},
    {"en": "norm1 goes before attention, norm2 before the feed-forward; both inside the branch.",
     "zh": "norm1 在注意力之前,norm2 在前馈层之前;都在分支内部。"},
]

MISTAKES = [
    Mistake("post_norm", "h = x + attn(norm1(x))\n    return h + mlp(norm2(h))",
            "h = norm1(x + attn(x))\n    return norm2(h + mlp(h))",
            {"en": "That is post-norm (the original Transformer): MiniMind normalises each sub-layer's input, "
                   "x + attn(norm1(x)), and leaves the residual path alone.",
             "zh": "这是 post-norm(原始 Transformer):MiniMind 归一化的是子层的输入,x + attn(norm1(x)),"
                   "残差通路保持不动。"}),
    Mistake("no_mlp_residual", "return h + mlp(norm2(h))", "return mlp(norm2(h))",
            {"en": "The feed-forward's residual is missing: return h + mlp(norm2(h)).",
             "zh": "前馈层漏了残差:应为 h + mlp(norm2(h))。"}),
    Mistake("one_norm", "mlp(norm2(h))", "mlp(norm1(h))",
            {"en": "Each sub-layer has its own norm (own weights): norm2 before the feed-forward.",
             "zh": "每个子层有自己的归一化(各自的权重):前馈层之前用 norm2。"}),
]


def oracle(x, attn, mlp, norm1, norm2):
    fake = SimpleNamespace(self_attn=lambda h, *rest: (attn(h), None, None), mlp=mlp, input_layernorm=norm1,
                           post_attention_layernorm=norm2)
    return MiniMindBlock.forward(fake, x, None)[0]


def parts(seed: int, c: int, dtype=torch.float32):
    """Stand-ins for attention and feed-forward (seeded Linears with a nonlinearity) and two RMSNorms."""
    torch.manual_seed(seed)
    attn_lin, mlp_lin = torch.nn.Linear(c, c).to(dtype), torch.nn.Linear(c, c).to(dtype)
    norm1, norm2 = RMSNorm(c).to(dtype), RMSNorm(c).to(dtype)
    with torch.no_grad():
        norm1.weight.uniform_(0.5, 1.5)
        norm2.weight.uniform_(0.5, 1.5)
    return (lambda h: torch.tanh(attn_lin(h)), lambda h: torch.nn.functional.silu(mlp_lin(h)), norm1, norm2)


def cases():
    for dtype in (torch.float32, torch.bfloat16):
        for seed, shape in ((0, (2, 5, 8)), (1, (1, 1, 12)), (2, (3, 4, 6))):
            yield Case(f"values {str(dtype)[6:]}, seed {seed}, shape {shape}", "block_forward",
                       (randn(*shape, seed=seed, dtype=dtype), *parts(seed, shape[-1], dtype)), **tolerance(dtype))


def grad_cases():
    yield Case("float64 (1, 3, 4)", "block_forward",
               (randn(1, 3, 4, seed=5, dtype=torch.float64).requires_grad_(), *parts(5, 4, torch.float64)))


def patch(model, ns):
    def forward(m):
        def block(hidden_states, position_embeddings, past_key_value=None, use_cache=False, attn_mask=None,
                  output_attentions=False):
            attn = lambda h: m.self_attn(h, position_embeddings)[0]  # noqa: E731
            out = ns["block_forward"](hidden_states, attn, m.mlp, m.input_layernorm, m.post_attention_layernorm)
            return out, None, None

        return block

    patch_modules(model, MiniMindBlock, forward)


EXERCISE = Exercise(
    name="block", module="transformer-block", minutes=15,
    title={"en": "The pre-norm transformer block", "zh": "Pre-norm Transformer Block"},
    solution=SOLUTION, docs=DOCS, hints=HINTS, real_code="minimind_notes/model/block.py: MiniMindBlock.forward",
    oracle={"block_forward": oracle}, cases=cases, grad_cases=grad_cases, mistakes=MISTAKES,
    plug=lambda ns: plugged_logits(lambda model: patch(model, ns)), patch=patch,
)
