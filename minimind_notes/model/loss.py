"""Next-token cross-entropy fused with the lm_head: the gradient is computed in the forward pass.

The plain loss keeps (N, vocab) logits, a float32 copy of them and their float32 log-softmax
for the backward pass, which then writes a float32 gradient and casts it back: at vocab 6,400
and 1,020 rows each float32 copy is 26 MB, written and read several times. Here the logits are
computed once in the matmul dtype; a chunk of rows at a time, their float32 softmax gives the
loss and the gradient of the loss with respect to the logits, (softmax - one_hot) / N, written
over the logits themselves. Two matmuls turn that gradient into the gradients of the hidden
states and of the weight, and the backward pass is two scalings. Same loss and gradients as
`F.cross_entropy(h @ W.T, labels)` (tests/test_loss.py).
"""

from __future__ import annotations

import torch

IGNORE_INDEX = -100


class _FusedLinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, chunk: int) -> torch.Tensor:
        # hidden (N, C), weight (V, C) in the matmul dtype; labels (N,) with IGNORE_INDEX to skip
        valid = labels != IGNORE_INDEX
        n_valid = valid.sum().clamp(min=1)
        safe_labels = labels.clamp(min=0)
        row_scale = valid / n_valid  # (N,): d loss / d logits is 0 on ignored rows
        logits = hidden @ weight.t()  # (N, V), becomes d loss / d logits chunk by chunk
        loss = torch.zeros((), dtype=torch.float32, device=hidden.device)
        for start in range(0, hidden.shape[0], chunk):
            rows = logits[start:start + chunk]
            y, scale = safe_labels[start:start + chunk], row_scale[start:start + chunk]
            z = rows.float()  # (chunk, V); rows itself when the matmul ran in float32
            picked = z.gather(1, y[:, None]).squeeze(1)  # the labels' logits
            z_max = z.amax(dim=-1, keepdim=True)
            z = z.sub_(z_max).exp_()  # the softmax's numerators, in place
            total = z.sum(dim=-1)  # (chunk,)
            loss += ((z_max.squeeze(1) + total.log() - picked) * scale).sum()  # log-sum-exp - picked
            z.mul_((scale / total)[:, None])  # softmax * scale
            z[torch.arange(len(y), device=y.device), y] -= scale  # minus the one-hot
            rows.copy_(z)
        grad_weight = logits.t() @ hidden if ctx.needs_input_grad[1] else None  # (V, C); not for a frozen lm_head
        ctx.save_for_backward(logits @ weight, grad_weight)  # d loss / d hidden (N, C)
        return loss

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor):
        grad_hidden, grad_weight = ctx.saved_tensors
        return grad_hidden * grad_loss, None if grad_weight is None else grad_weight * grad_loss, None, None


def fused_linear_cross_entropy(
    hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, chunk: int = 256
) -> torch.Tensor:
    """Mean cross-entropy of `hidden @ weight.T` against labels (IGNORE_INDEX skipped), float32.

    hidden (N, C), weight (V, C), labels (N,). Under autocast the matmuls run in its dtype, as the
    lm_head would; the softmax is in float32, `chunk` rows at a time."""
    dtype = torch.get_autocast_dtype(hidden.device.type) if torch.is_autocast_enabled(hidden.device.type) else None
    with torch.autocast(hidden.device.type, enabled=False):
        if dtype is not None:
            hidden, weight = hidden.to(dtype), weight.to(dtype)
        return _FusedLinearCrossEntropy.apply(hidden, weight, labels, chunk)
