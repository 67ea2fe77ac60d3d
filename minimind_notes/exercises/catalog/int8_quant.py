"""INT8 per-output-channel weight quantization: absmax scales, rounded codes, and back."""

from __future__ import annotations

import copy

import torch

from minimind_notes.exercises.spec import Case, Exercise, Mistake
from minimind_notes.exercises.tensors import randn
from minimind_notes.exercises.tiny import tiny_ids, tiny_model
from minimind_notes.model.quantize import dequantize_weight, quantize_model, quantize_weight

SOLUTION = '''\
import torch


def quantize_int8(w):
    absmax = w.float().abs().amax(dim=1, keepdim=True)
    scale = torch.where(absmax > 0, absmax / 127, torch.ones_like(absmax))
    codes = torch.round(w.float() / scale).clamp(-127, 127).to(torch.int8)
    return codes, scale.squeeze(1)


def dequantize_int8(codes, scale):
    return codes.float() * scale[:, None]
'''

DOCS = {
    "quantize_int8": {
        "en": """Symmetric absmax INT8 quantization of a weight w (out, in), one scale per output channel (row).

        scale = max |w| over the row / 127 (a row of zeros gets scale 1); codes = round(w / scale), clamped to
        [-127, 127]. Compute in float32 (w may be bf16). Returns (codes int8 (out, in), scale float32 (out,)).""",
        "zh": """对权重 w (out, in) 做对称 absmax INT8 量化,每个输出通道(每行)一个 scale。

        scale = 该行 max |w| / 127(全零的行 scale 取 1);codes = round(w / scale),截断到 [-127, 127]。
        用 float32 计算(w 可能是 bf16)。返回 (codes int8 (out, in), scale float32 (out,))。""",
    },
    "dequantize_int8": {
        "en": """The float32 weight (out, in) that codes (out, in) and scale (out,) stand for: codes * scale,
        row by row.""",
        "zh": """codes (out, in) 与 scale (out,) 所代表的 float32 权重 (out, in):每行 codes * scale。""",
    },
}

HINTS = [
    {"en": "Per output channel = per row: w.abs().amax(dim=1, keepdim=True) is (out, 1).",
     "zh": "按输出通道 = 按行:w.abs().amax(dim=1, keepdim=True) 是 (out, 1)。"},
    {"en": "Round to the nearest code (torch.round), then .to(torch.int8); the error is then at most scale / 2.",
     "zh": "四舍五入到最近的码(torch.round),再 .to(torch.int8);误差最多为 scale / 2。"},
]

MISTAKES = [
    Mistake("per_tensor", "absmax = w.float().abs().amax(dim=1, keepdim=True)",
            "absmax = w.float().abs().max().expand(w.shape[0], 1)",
            {"en": "One scale for the whole tensor: MiniMind's INT8 keeps one scale per output channel (row), so a "
                   "row of small weights keeps its precision.",
             "zh": "整个张量只用一个 scale:MiniMind 的 INT8 每个输出通道(每行)一个 scale,小权重的行才能保住精度。"}),
    Mistake("qmax_128", "absmax / 127", "absmax / 128",
            {"en": "The symmetric grid is [-127, 127]: scale = absmax / 127.",
             "zh": "对称网格是 [-127, 127]:scale = absmax / 127。"}),
    Mistake("truncate", "torch.round(w.float() / scale)", "(w.float() / scale).trunc()",
            {"en": "Truncating toward zero doubles the error: round to the nearest code (torch.round).",
             "zh": "向零截断会让误差翻倍:四舍五入到最近的码(torch.round)。"}),
]


def real_quantize(w):
    codes, scale = quantize_weight(w, 8)
    return codes, scale.squeeze(-1)


def cases():
    for dtype in (torch.float32, torch.bfloat16):
        for seed, shape in ((0, (6, 16)), (1, (3, 5)), (2, (1, 7))):
            yield Case(f"quantize {str(dtype)[6:]}, seed {seed}, w {shape}", "quantize_int8",
                       (randn(*shape, seed=seed, dtype=dtype, scale=0.05),))
    w = randn(4, 8, seed=3)
    w[1] = 0
    w[2] *= 100
    yield Case("edge: a row of zeros and a row 100x larger", "quantize_int8", (w,))
    codes, scale = real_quantize(randn(5, 9, seed=4))
    yield Case("dequantize (5, 9)", "dequantize_int8", (codes, scale))


def plug(ns):
    """The tiny model with every Linear (and the tied embedding) rebuilt from the learner's codes = quantize_model."""
    model = tiny_model()
    ids = tiny_ids()
    with torch.no_grad():
        expected = quantize_model(copy.deepcopy(model), bits=8)(ids).logits
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.copy_(ns["dequantize_int8"](*ns["quantize_int8"](module.weight)))
        return expected, model(ids).logits


EXERCISE = Exercise(
    name="int8_quant", module="inference", minutes=15,
    title={"en": "INT8 per-channel quantize and dequantize", "zh": "INT8 按通道量化与反量化"},
    solution=SOLUTION, docs=DOCS, hints=HINTS,
    real_code="minimind_notes/model/quantize.py: quantize_weight, dequantize_weight, QuantLinear",
    oracle={"quantize_int8": real_quantize,
            "dequantize_int8": lambda codes, scale: dequantize_weight(codes, scale[:, None])},
    cases=cases, mistakes=MISTAKES, plug=plug,
)
