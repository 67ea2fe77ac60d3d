"""Mixture of experts: a router picks the top-k of n routed experts per token; in the
DeepSeek-MoE style of MiniMind2, shared experts also see every token (minimind-3 has none).

Each token pays for k + n_shared expert FFNs while the model holds n_routed + n_shared of
them: more parameters at the same compute per token. An auxiliary loss keeps the router
from sending every token to the same few experts.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from minimind_notes.model.config import MiniMindConfig
from minimind_notes.model.feedforward import FeedForward


class MoEGate(nn.Module):
    def __init__(self, config: MiniMindConfig) -> None:
        super().__init__()
        self.top_k = config.num_experts_per_tok
        self.n_experts = config.n_routed_experts
        self.alpha = config.aux_loss_alpha
        self.seq_aux = config.seq_aux
        # MiniMind2 renormalises only when k > 1, so that with k = 1 the expert output is scaled by the
        # raw probability and the router learns from the main loss (as in the Switch Transformer).
        # minimind-3 and Qwen3-MoE renormalise at k = 1 too: the weight is 1.0 and the router
        # learns from the aux loss alone.
        self.norm_topk_prob = config.norm_topk_prob and (self.top_k > 1 or config.norm_top1_prob)
        self.weight = nn.Parameter(torch.empty(self.n_experts, config.hidden_size))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, T, C) -> expert ids (B*T, k), their weights (B*T, k), aux loss (scalar)."""
        b, t, c = x.shape
        logits = F.linear(x.reshape(-1, c), self.weight)
        scores = logits.softmax(dim=-1, dtype=torch.promote_types(logits.dtype, torch.float32))  # (B*T, E)
        topk_weight, topk_idx = torch.topk(scores, k=self.top_k, dim=-1, sorted=False)
        if self.norm_topk_prob:
            topk_weight = topk_weight / (topk_weight.sum(dim=-1, keepdim=True) + 1e-20)

        aux_loss = scores.new_zeros(())
        if self.training and self.alpha > 0:
            if self.seq_aux:
                # Per sequence: fraction of routing slots each expert got (scaled so that a
                # uniform router gives 1) times its mean router probability.
                idx = topk_idx.view(b, t * self.top_k)
                load = scores.new_zeros(b, self.n_experts).scatter_add_(
                    1, idx, scores.new_ones(b, t * self.top_k)
                ) / (t * self.top_k / self.n_experts)
                aux_loss = (load * scores.view(b, t, -1).mean(dim=1)).sum(dim=1).mean() * self.alpha
            else:
                load = F.one_hot(topk_idx.view(-1), self.n_experts).float().mean(0) * self.n_experts
                aux_loss = (scores.mean(0) * load).sum() * self.alpha
        return topk_idx, topk_weight, aux_loss


class MOEFeedForward(nn.Module):
    def __init__(self, config: MiniMindConfig) -> None:
        super().__init__()
        self.experts = nn.ModuleList(FeedForward(config) for _ in range(config.n_routed_experts))
        self.gate = MoEGate(config)
        self.shared_experts = nn.ModuleList(
            FeedForward(config) for _ in range(config.n_shared_experts)
        )
        self.aux_loss = torch.zeros(())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, T, C)
        b, t, c = x.shape
        topk_idx, topk_weight, self.aux_loss = self.gate(x)
        flat = x.reshape(-1, c)
        y = torch.zeros_like(flat)
        for i, expert in enumerate(self.experts):
            token, slot = (topk_idx == i).nonzero(as_tuple=True)
            if token.numel() == 0 and not self.training:
                continue  # in training every expert runs (maybe on 0 tokens) so DDP sees its grads
            out = expert(flat[token]) * topk_weight[token, slot, None]
            y = y.index_add(0, token, out.to(y.dtype))
        y = y.view(b, t, c)
        for expert in self.shared_experts:
            y = y + expert(x)
        return y
