"""Helpers for the mixture-of-experts experiments, built on the real `MOEFeedForward`.

- `routing` / `expert_load`: how many routing slots each routed expert received, per MoE layer, on
  given ids, and the router's mean probabilities (what the aux loss multiplies).
- `load_stats`: shares, max share, coefficient of variation and entropy of such counts.
- `active_parameters` / `mm_flops_per_token`: what one token touches, counted on the model.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from minimind_notes.model import MiniMindConfig
from minimind_notes.model.moe import MOEFeedForward, MoEGate


def byte_config(**overrides: object) -> MiniMindConfig:
    """A small byte-level MiniMind (vocab 256, hidden 64, 2 layers), with MoE knobs as overrides."""
    base = dict(vocab_size=256, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=1024)
    return MiniMindConfig(**{**base, **overrides})


def moe_layers(model: nn.Module) -> list[MOEFeedForward]:
    return [m for m in model.modules() if isinstance(m, MOEFeedForward)]


def active_parameters(model: nn.Module) -> int:
    """Parameters one token uses: all of them minus the routed experts it is not sent to.

    Per MoE layer a token runs the router, the shared experts and `top_k` of the routed experts,
    so `n_routed - top_k` experts' weights sit idle for it."""
    idle = 0
    for layer in moe_layers(model):
        per_expert = sum(p.numel() for p in layer.experts[0].parameters())
        idle += (len(layer.experts) - layer.gate.top_k) * per_expert
    return sum(p.numel() for p in model.parameters()) - idle


@torch.no_grad()
def mm_flops_per_token(model: nn.Module, ids: torch.Tensor) -> float:
    """Matrix-multiply FLOPs of one forward pass over `ids`, divided by the number of tokens.

    Counted from what actually ran: a forward hook on every nn.Linear (and on every MoEGate, whose
    router calls F.linear) adds 2 x rows x in x out for each call, so each expert contributes only
    for the tokens routed to it. The attention score products (q k^T, weights v) are left out:
    they depend on the sequence length, not on the FFN, and are the same for dense and MoE."""
    total = 0

    def count(module: nn.Module, inputs: tuple, output: object) -> None:  # returns None: output unchanged
        nonlocal total
        weight = module.weight  # (out, in) for Linear, (E, C) for the router
        rows = inputs[0].numel() // weight.shape[1]
        total += 2 * rows * weight.shape[0] * weight.shape[1]

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Linear, MoEGate))]
    was_training = model.training
    model.eval()
    try:
        model(ids)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return total / ids.numel()


@torch.no_grad()
def routing(model: nn.Module, ids: torch.Tensor, batch_size: int = 16) -> dict[str, torch.Tensor]:
    """What every MoEGate did during an eval-mode forward over `ids`, per MoE layer:

    counts (L, E): routing slots (token x top-k choice) each routed expert received;
    mean_prob (L, E): the router's softmax probability of each expert, averaged over tokens;
    balance (L,): E x sum_e f_e x P_e with f_e = counts share and P_e = mean_prob, the quantity the
        aux loss multiplies by alpha (the batch-level form; 1.0 when routing is uniform)."""
    gates = [m for m in model.modules() if isinstance(m, MoEGate)]
    n_experts = gates[0].n_experts
    counts = torch.zeros(len(gates), n_experts)
    prob_sum = torch.zeros(len(gates), n_experts)

    def record(i: int) -> Callable[..., None]:
        def hook(module: MoEGate, inputs: tuple, output: tuple) -> None:  # returns None: output unchanged
            x = inputs[0].reshape(-1, inputs[0].shape[-1])  # (B*T, C), as the gate sees it
            prob_sum[i] += F.linear(x, module.weight).softmax(dim=-1).sum(dim=0)
            counts[i] += torch.bincount(output[0].flatten(), minlength=module.n_experts).float()
        return hook

    hooks = [gate.register_forward_hook(record(i)) for i, gate in enumerate(gates)]
    was_training = model.training
    model.eval()
    try:
        for i in range(0, len(ids), batch_size):
            model(ids[i:i + batch_size])
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    mean_prob = prob_sum / ids.numel()
    share = counts / counts.sum(dim=-1, keepdim=True)
    return {"counts": counts, "mean_prob": mean_prob, "balance": n_experts * (share * mean_prob).sum(dim=-1)}


def expert_load(model: nn.Module, ids: torch.Tensor, batch_size: int = 16) -> torch.Tensor:
    """(n_moe_layers, n_routed_experts) counts of routing slots per expert on `ids`."""
    return routing(model, ids, batch_size)["counts"]


def load_stats(counts: torch.Tensor) -> dict[str, list[float]]:
    """Per layer: each expert's share of the routed slots, the max share, the coefficient of
    variation of the counts (std / mean: 0 when balanced, `max_cv` when top_k experts take all)
    and the entropy of the shares in bits (log2 E when balanced, log2 top_k when top_k take all)."""
    shares = counts / counts.sum(dim=-1, keepdim=True)  # (L, E)
    cv = shares.std(dim=-1, unbiased=False) / shares.mean(dim=-1)
    entropy = -(shares * shares.clamp_min(1e-12).log2()).sum(dim=-1)
    return {"shares": shares.tolist(), "max_share": shares.max(dim=-1).values.tolist(),
            "cv": cv.tolist(), "entropy_bits": entropy.tolist()}


def max_cv(n_experts: int, top_k: int = 1) -> float:
    """The coefficient of variation when `top_k` experts receive every slot (1/top_k of them each):
    sqrt(E / k - 1). A token's k choices are distinct experts, so no single one can take more."""
    return math.sqrt(n_experts / top_k - 1)
