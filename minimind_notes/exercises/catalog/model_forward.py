"""The whole MiniMind forward: embedding lookup, the blocks, the final norm, the tied output head."""

from __future__ import annotations

import torch

from minimind_notes.exercises.spec import Case, Exercise, Mistake
from minimind_notes.exercises.tensors import randn, tolerance
from minimind_notes.exercises.tiny import tiny_ids, tiny_model
from minimind_notes.model.config import MiniMindConfig
from minimind_notes.model.model import MiniMindForCausalLM
from minimind_notes.model.norm import RMSNorm

SOLUTION = '''\
def model_forward(input_ids, embed_weight, blocks, final_norm):
    h = embed_weight[input_ids]
    for block in blocks:
        h = block(h)
    return final_norm(h) @ embed_weight.T
'''

DOCS = {"model_forward": {
    "en": """MiniMind's forward: token ids (B, T) -> logits (B, T, V).

    embed_weight (V, C) is the embedding table AND the output head (tied weights); blocks is a list of
    callables (B, T, C) -> (B, T, C) (each a whole decoder block, positions handled inside); final_norm is the
    RMSNorm after the last block. Look the ids up, run the blocks in order, normalise, project with the same
    matrix (logits = h @ embed_weight.T).""",
    "zh": """MiniMind 的前向:token id (B, T) -> logits (B, T, V)。

    embed_weight (V, C) 既是词嵌入表,也是输出头(权重共享);blocks 是 (B, T, C) -> (B, T, C) 的可调用对象列表
    (每个是一个完整的解码块,位置信息在块内处理);final_norm 是最后一个块之后的 RMSNorm。
    查表得到向量,依次经过各块,归一化,再用同一个矩阵投影(logits = h @ embed_weight.T)。""",
}}

HINTS = [
    {"en": "embed_weight[input_ids] is the lookup: (B, T) ids -> (B, T, C) vectors.",
     "zh": "embed_weight[input_ids] 就是查表:(B, T) 的 id -> (B, T, C) 的向量。"},
    {"en": "The final norm runs once, after all blocks; the head is the embedding matrix transposed.",
     "zh": "最终归一化只做一次,在所有块之后;输出头是嵌入矩阵的转置。"},
]

MISTAKES = [
    Mistake("no_final_norm", "return final_norm(h) @ embed_weight.T", "return h @ embed_weight.T",
            {"en": "The final RMSNorm is missing: normalise the last block's output before the head.",
             "zh": "漏了最终的 RMSNorm:输出头之前要先归一化最后一个块的输出。"}),
    Mistake("scaled_embedding", "h = embed_weight[input_ids]",
            "h = embed_weight[input_ids] * embed_weight.shape[1] ** 0.5",
            {"en": "MiniMind does not scale the embeddings by sqrt(C) (the original Transformer and Gemma do).",
             "zh": "MiniMind 不把嵌入乘以 sqrt(C)(原始 Transformer 和 Gemma 会)。"}),
    Mistake("norm_each_block", "h = block(h)", "h = final_norm(block(h))",
            {"en": "The final norm runs once, after the last block, not after every block.",
             "zh": "最终归一化只在最后一个块之后做一次,不是每个块之后都做。"}),
]


def oracle(input_ids, embed_weight, blocks, final_norm):
    v, c = embed_weight.shape
    model = MiniMindForCausalLM(MiniMindConfig(hidden_size=c, num_hidden_layers=len(blocks), vocab_size=v,
                                               num_attention_heads=1, num_key_value_heads=1,
                                               max_position_embeddings=max(input_ids.shape[1], 1)))
    model.lm_head.weight = model.model.embed_tokens.weight = torch.nn.Parameter(
        embed_weight, requires_grad=embed_weight.requires_grad)
    model.model.norm = final_norm
    for layer, block in zip(model.model.layers, blocks, strict=True):
        layer.forward = lambda h, *rest, block=block: (block(h), None, None)
    return model(input_ids).logits


def parts(seed: int, v: int, c: int, n_blocks: int, dtype=torch.float32):
    torch.manual_seed(seed)
    linears = [torch.nn.Linear(c, c).to(dtype) for _ in range(n_blocks)]
    norm = RMSNorm(c).to(dtype)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
    blocks = [lambda h, lin=lin: h + torch.tanh(lin(h)) for lin in linears]
    return randn(v, c, seed=seed, dtype=dtype), blocks, norm


def ids(seed: int, b: int, t: int, v: int) -> torch.Tensor:
    return torch.randint(0, v, (b, t), generator=torch.Generator().manual_seed(seed))


def cases():
    for dtype in (torch.float32, torch.bfloat16):
        for seed, (b, t, v, c, n) in ((0, (2, 5, 16, 8, 2)), (1, (1, 1, 11, 6, 1)), (2, (3, 4, 20, 12, 3))):
            yield Case(f"values {str(dtype)[6:]}, seed {seed}, B={b} T={t} V={v} C={c} blocks={n}", "model_forward",
                       (ids(seed, b, t, v), *parts(seed, v, c, n, dtype)), **tolerance(dtype))
    yield Case("edge: no blocks", "model_forward", (ids(3, 2, 3, 10), *parts(3, 10, 4, 0)))


def grad_cases():
    weight, blocks, norm = parts(4, 6, 4, 1, torch.float64)
    yield Case("float64 V=6 C=4, 1 block", "model_forward", (ids(4, 1, 3, 6), weight.requires_grad_(), blocks, norm))


def plug(ns):
    model = tiny_model()
    input_ids = tiny_ids()
    with torch.no_grad():
        expected = model(input_ids).logits
        t = input_ids.shape[1]
        pe = (model.model.freqs_cos[:t], model.model.freqs_sin[:t])
        blocks = [lambda h, layer=layer: layer(h, pe)[0] for layer in model.model.layers]
        return expected, ns["model_forward"](input_ids, model.lm_head.weight, blocks, model.model.norm)


EXERCISE = Exercise(
    name="model_forward", module="transformer-block", minutes=15,
    title={"en": "The whole MiniMind forward (embedding, blocks, final norm, tied head)",
           "zh": "完整的 MiniMind 前向(嵌入、各块、最终归一化、共享输出头)"},
    solution=SOLUTION, docs=DOCS, hints=HINTS, real_code="minimind_notes/model/model.py: MiniMindForCausalLM.forward",
    oracle={"model_forward": oracle}, cases=cases, grad_cases=grad_cases, mistakes=MISTAKES, plug=plug,
)
