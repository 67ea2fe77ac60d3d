"""Next-token cross-entropy fused with the lm_head, a chunk of rows at a time.

The plain loss materialises (N, vocab) logits, casts them to float32 for the softmax, and
keeps them for the backward pass: at vocab 6,400 and 1,020 rows that is 26 MB of float32
written and read several times. This computes, for each chunk of rows, the logits, their
log-softmax, the loss and the gradient of the loss with respect to the logits
(softmax - one_hot) / N, and turns that gradient at once into the gradients of the hidden
states and of the weight. Nothing of vocab size outlives a chunk, and the backward pass is
two scalings. Same loss and gradients as `F.cross_entropy(h @ W.T, labels)`
(tests/test_loss.py).
"""

from __future__ import annotations

import torch

IGNORE_INDEX = -100


class _FusedLinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, chunk: int) -> torch.Tensor:
        # hidden (N, C), weight (V, C) in the matmul dtype; labels (N,) with IGNORE_INDEX to skip
        n_valid = (labels != IGNORE_INDEX).sum().clamp(min=1)
        loss = torch.zeros((), dtype=torch.float32, device=hidden.device)
        grad_hidden = torch.empty_like(hidden)
        grad_weight = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
        for start in range(0, hidden.shape[0], chunk):
            h, y = hidden[start:start + chunk], labels[start:start + chunk]
            logits = (h @ weight.t()).float()  # (chunk, V)
            valid = y != IGNORE_INDEX
            safe_y = y.clamp(min=0)
            log_z = torch.logsumexp(logits, dim=-1)  # (chunk,)
            picked = logits.gather(1, safe_y[:, None]).squeeze(1)
            loss += ((log_z - picked) * valid).sum()
            # d loss / d logits = (softmax - one_hot) / n_valid on valid rows, 0 on ignored ones
            grad = torch.exp(logits - log_z[:, None])
            grad[torch.arange(len(y), device=y.device), safe_y] -= 1
            grad *= (valid / n_valid)[:, None]
            grad = grad.to(hidden.dtype)
            grad_hidden[start:start + chunk] = grad @ weight
            grad_weight += (grad.t() @ h).float()
        ctx.save_for_backward(grad_hidden, grad_weight.to(weight.dtype))
        return loss / n_valid

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor):
        grad_hidden, grad_weight = ctx.saved_tensors
        return grad_hidden * grad_loss, grad_weight * grad_loss, None, None


def fused_linear_cross_entropy(
    hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, chunk: int = 256
) -> torch.Tensor:
    """Mean cross-entropy of `hidden @ weight.T` against labels (IGNORE_INDEX skipped), float32.

    hidden (N, C), weight (V, C), labels (N,). Under autocast the matmuls run in its dtype, as the
    lm_head would; the softmax is in float32."""
    dtype = torch.get_autocast_dtype(hidden.device.type) if torch.is_autocast_enabled(hidden.device.type) else None
    with torch.autocast(hidden.device.type, enabled=False):
        if dtype is not None:
            hidden, weight = hidden.to(dtype), weight.to(dtype)
        return _FusedLinearCrossEntropy.apply(hidden, weight, labels, chunk)
