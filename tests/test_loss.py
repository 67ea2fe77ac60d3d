"""The fused lm_head + cross-entropy gives the loss and gradients of the plain one."""

import pytest
import torch
import torch.nn.functional as F

from minimind_notes.model.loss import IGNORE_INDEX, fused_linear_cross_entropy


def plain_and_fused(dtype, chunk, autocast=False):
    torch.manual_seed(0)
    hidden = torch.randn(37, 16, dtype=dtype, requires_grad=True)
    weight = torch.randn(50, 16, dtype=dtype, requires_grad=True)
    labels = torch.randint(0, 50, (37,))
    labels[[0, 5, 36]] = IGNORE_INDEX  # padding / prompt tokens: no loss, no gradient
    results = []
    for loss_fn in (lambda: F.cross_entropy(F.linear(hidden, weight).float(), labels, ignore_index=IGNORE_INDEX),
                    lambda: fused_linear_cross_entropy(hidden, weight, labels, chunk)):
        with torch.autocast("cpu", torch.bfloat16, enabled=autocast):
            loss = loss_fn()
        (3 * loss).backward()  # an upstream factor, as loss / accumulation_steps is
        results.append((loss.detach(), hidden.grad, weight.grad))
        hidden.grad = weight.grad = None
    return results


@pytest.mark.parametrize("chunk", [1, 8, 37, 100])
def test_fused_loss_and_gradients_equal_plain_cross_entropy(chunk):
    (loss, gh, gw), (fused, fh, fw) = plain_and_fused(torch.float64, chunk)
    assert fused.dtype == torch.float32
    assert torch.allclose(loss.double(), fused.double(), atol=1e-6)
    assert torch.allclose(gh, fh, atol=1e-7) and torch.allclose(gw, fw, atol=1e-7)  # both softmaxes in float32
    assert fh[[0, 5, 36]].abs().max() == 0


def test_fused_loss_under_bf16_autocast_matches_within_bf16_rounding():
    (loss, gh, gw), (fused, fh, fw) = plain_and_fused(torch.float32, 16, autocast=True)
    assert torch.allclose(loss, fused, rtol=1e-3)
    assert (gh - fh).abs().max() < 1e-2 * gh.abs().max() and (gw - fw).abs().max() < 1e-2 * gw.abs().max()


def model_losses_and_grads(config, fused, labels_fn=lambda ids: ids, lora=False):
    from minimind_notes.model import MiniMindForCausalLM, apply_lora

    torch.manual_seed(0)
    model = MiniMindForCausalLM(config)
    if lora:
        apply_lora(model, rank=2)
    ids = torch.randint(0, config.vocab_size, (2, 12))
    out = model(ids, labels=labels_fn(ids), fused_loss=fused)
    (out.loss + out.aux_loss).backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    return out, grads


def sft_labels(ids):
    labels = ids.clone()
    labels[:, :5] = IGNORE_INDEX  # the prompt: no loss
    return labels


@pytest.mark.parametrize("case", ["pretrain", "sft", "moe", "lora"])
def test_the_models_fused_loss_equals_its_plain_loss_with_the_same_gradients(case):
    from minimind_notes.model import MiniMindConfig

    config = MiniMindConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                            vocab_size=64, use_moe=case == "moe")
    kwargs = {"labels_fn": sft_labels} if case == "sft" else {"lora": case == "lora"}
    (plain, plain_grads), (fused, fused_grads) = (model_losses_and_grads(config, f, **kwargs) for f in (False, True))
    assert fused.logits is None and plain.logits is not None
    assert torch.allclose(plain.loss, fused.loss, atol=1e-6) and torch.equal(plain.aux_loss, fused.aux_loss)
    assert plain_grads.keys() == fused_grads.keys()
    for name, grad in plain_grads.items():
        assert torch.allclose(grad, fused_grads[name], atol=1e-5), name
