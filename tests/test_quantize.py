"""Weight-only quantization (minimind_notes/model/quantize.py): error bounds, packing, the tied
embedding, sizes, and agreement with PyTorch's own quantization where this torch has it."""

import copy
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from minimind_notes.model import MiniMindForCausalLM
from minimind_notes.model.quantize import (
    QuantEmbedding,
    QuantLinear,
    dequantize_weight,
    model_size_bytes,
    pack_int4,
    qmax,
    quantize_model,
    quantize_weight,
    torch_dynamic_int8,
    unpack_int4,
)
from tests.conftest import tiny_config

SCHEMES = [(8, None), (8, 32), (4, None), (4, 32), (4, 64)]


def weight_with_outliers(out_f: int = 48, in_f: int = 128) -> torch.Tensor:
    torch.manual_seed(0)
    w = torch.randn(out_f, in_f) * 0.02
    w[3, 7] = 0.5  # one outlier: its row (or group) gets a large scale
    w[5] = 0.0  # an all-zero row must not divide by zero
    return w


def tiny_model(**overrides) -> MiniMindForCausalLM:
    torch.manual_seed(0)
    return MiniMindForCausalLM(tiny_config(**overrides)).eval()


@pytest.mark.parametrize(("bits", "group"), SCHEMES)
def test_round_trip_error_is_at_most_half_a_step(bits, group):
    w = weight_with_outliers()
    codes, scale = quantize_weight(w, bits, group)
    n_groups = 1 if group is None else w.shape[1] // group
    assert codes.dtype == torch.int8 and scale.shape == (w.shape[0], n_groups)
    assert int(codes.abs().max()) == qmax(bits)  # the absmax of a group maps to +-qmax
    step = scale.repeat_interleave(w.shape[1] // n_groups, dim=1)  # (out, in): each weight's scale
    err = (w - dequantize_weight(codes, scale)).abs()
    assert bool((err <= step / 2 * (1 + 1e-6) + 1e-12).all())
    assert float(err[5].max()) == 0.0  # a zero row stays exactly zero


def test_smaller_groups_isolate_an_outlier():
    w = weight_with_outliers()
    errors = {}
    for group in (None, 64, 32):
        codes, scale = quantize_weight(w, 4, group)
        errors[group] = float((w[3] - dequantize_weight(codes, scale)[3]).abs().mean())
    # Per row, the 0.5 outlier sets one coarse scale for all 128 weights; groups confine it to one group.
    assert errors[32] < errors[64] < errors[None]


def test_int4_packing_round_trip_and_layout():
    codes = torch.arange(-8, 8, dtype=torch.int8).repeat(3, 2)  # (3, 32), every 4-bit value
    packed = pack_int4(codes)
    assert packed.dtype == torch.uint8 and packed.shape == (3, 16)
    assert torch.equal(unpack_int4(packed), codes)
    assert int(packed[0, 0]) == (-8 + 8) | ((-7 + 8) << 4)  # low nibble = even column
    with pytest.raises(ValueError):
        pack_int4(torch.zeros(2, 3, dtype=torch.int8))


@pytest.mark.parametrize(("bits", "group"), SCHEMES)
def test_quant_linear_computes_with_its_dequantized_weight(bits, group):
    torch.manual_seed(0)
    linear = nn.Linear(128, 48, bias=True)
    q = QuantLinear.from_linear(linear, bits, group)
    x = torch.randn(2, 5, 128)
    assert torch.equal(q(x), F.linear(x, q.dequantize(), linear.bias))
    assert (q(x) - linear(x)).abs().max() < (0.05 if bits == 8 else 0.5)
    stored = q.qweight
    assert stored.dtype == (torch.int8 if bits == 8 else torch.uint8)
    assert stored.shape == ((48, 128) if bits == 8 else (48, 64))


def test_group_size_must_divide_the_input_dimension():
    with pytest.raises(ValueError, match="group_size"):
        QuantLinear.from_linear(nn.Linear(100, 8), bits=4, group_size=32)
    with pytest.raises(ValueError, match="bits"):
        QuantLinear.from_linear(nn.Linear(64, 8), bits=3)


def relative_error(a: torch.Tensor, ref: torch.Tensor) -> float:
    return float((a - ref).norm() / ref.norm())


@pytest.mark.parametrize(("bits", "group", "bound"), [(8, None, 0.02), (4, 32, 0.3)])
def test_quantized_model_logits_stay_close(bits, group, bound):
    # Random N(0, 0.02) weights: INT4 with groups of 32 has a step of about 0.3 sigma, so a few
    # percent of error per matrix, compounding through the layers.
    model = tiny_model()
    ids = torch.randint(0, 128, (2, 24))
    with torch.no_grad():
        ref = model(ids).logits
        out = quantize_model(copy.deepcopy(model), bits, group)(ids).logits
    assert relative_error(out, ref) < bound
    agree = (out.argmax(-1) == ref.argmax(-1)).float().mean()
    assert agree > (0.95 if bits == 8 else 0.7)


def test_every_linear_is_swapped_and_the_tied_matrix_is_quantized_once():
    model = quantize_model(tiny_model(), bits=4, group_size=32)
    assert not any(type(m) in (nn.Linear, nn.Embedding) for m in model.modules())
    emb, head = model.model.embed_tokens, model.lm_head
    assert isinstance(emb, QuantEmbedding) and isinstance(head, QuantLinear)
    assert emb.qweight is head.qweight and emb.scale is head.scale  # one matrix, two roles
    ids = torch.tensor([[0, 5, 127]])
    assert torch.equal(emb(ids), head.dequantize()[ids])
    # Still tied after loading a checkpoint: load_state_dict copies into the shared buffers.
    fresh = quantize_model(tiny_model(), bits=4, group_size=32)
    fresh.load_state_dict(model.state_dict())
    assert fresh.model.embed_tokens.qweight is fresh.lm_head.qweight
    assert torch.equal(fresh(ids).logits, model(ids).logits)


def test_tied_pair_stays_in_float_without_embedding_quantization():
    model = quantize_model(tiny_model(), bits=8, quantize_embedding=False)
    assert type(model.lm_head) is nn.Linear and type(model.model.embed_tokens) is nn.Embedding
    assert model.lm_head.weight is model.model.embed_tokens.weight
    assert isinstance(model.model.layers[0].mlp.down_proj, QuantLinear)


def test_untied_embedding_is_quantized_on_its_own():
    model = quantize_model(tiny_model(tie_word_embeddings=False), bits=8)
    emb, head = model.model.embed_tokens, model.lm_head
    assert isinstance(emb, QuantEmbedding) and isinstance(head, QuantLinear)
    assert emb.qweight is not head.qweight


def test_model_size_counts_codes_scales_and_the_tied_matrix_once():
    cfg = tiny_config()  # hidden 64, inter 192, 2 layers, 4 heads of 16, 2 KV heads, vocab 128
    model = tiny_model()
    floats = model.num_parameters()
    assert model_size_bytes(model) == 4 * floats  # the tied matrix counted once
    shapes = [(64, 64), (32, 64), (32, 64), (64, 64), (192, 64), (192, 64), (64, 192)] * cfg.num_hidden_layers
    shapes.append((cfg.vocab_size, 64))  # lm_head = embedding
    norms = 4 * (2 * cfg.num_hidden_layers + 1) * 64
    int8 = sum(o * i + 4 * o for o, i in shapes) + norms
    int4 = sum(o * i // 2 + 4 * o * (i // 32) for o, i in shapes) + norms
    assert model_size_bytes(quantize_model(tiny_model(), 8)) == int8
    assert model_size_bytes(quantize_model(tiny_model(), 4, 32)) == int4
    assert int4 < int8 < 4 * floats


# -- PyTorch's own quantization as the reference ---------------------------------------------------
def test_codes_equal_torch_quantize_per_channel_with_the_same_scales():
    if not hasattr(torch, "quantize_per_channel"):
        pytest.skip("torch.quantize_per_channel is not in this torch")
    w = weight_with_outliers()
    codes, scale = quantize_weight(w, 8)
    with warnings.catch_warnings():  # quantized tensors are deprecated in recent torch; still the reference
        warnings.simplefilter("ignore")
        ref = torch.quantize_per_channel(w, scale[:, 0].double(), torch.zeros(w.shape[0], dtype=torch.long),
                                         axis=0, dtype=torch.qint8).int_repr()
    assert torch.equal(codes, ref)


def test_weight_only_int8_is_closer_than_torch_dynamic_int8():
    model = tiny_model()
    reference, why = torch_dynamic_int8(model)
    if reference is None:
        pytest.skip(why)
    ours = quantize_model(copy.deepcopy(model), bits=8, quantize_embedding=False)  # the same layers as torch's
    ids = torch.randint(0, 128, (2, 24))
    with torch.no_grad():
        ref_logits = model(ids).logits
        torch_err = relative_error(reference(ids).logits, ref_logits)
        our_err = relative_error(ours(ids).logits, ref_logits)
    assert torch_err < 0.05  # the reference itself works on this model
    assert our_err < torch_err  # per-channel weights, float activations: closer than per-tensor + int8 activations
    # Weight by weight: one scale per row beats one scale per matrix on average.
    q_torch = reference.model.layers[0].mlp.up_proj
    w = model.model.layers[0].mlp.up_proj.weight
    torch_w_err = (q_torch.weight().dequantize() - w).abs().mean()
    our_w_err = (ours.model.layers[0].mlp.up_proj.dequantize() - w).abs().mean()
    assert our_w_err < torch_w_err
