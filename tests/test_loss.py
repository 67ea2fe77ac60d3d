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
