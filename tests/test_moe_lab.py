"""The MoE lab helpers (lab/moe.py) against the model's own numbers."""

import math

import torch

from minimind_notes.lab.byte_lm import ByteBatches, train_lm
from minimind_notes.lab.moe import (
    active_parameters,
    byte_config,
    load_stats,
    max_cv,
    mm_flops_per_token,
    routing,
)
from minimind_notes.model import MiniMindForCausalLM, preset

MOE = dict(use_moe=True, n_routed_experts=4, num_experts_per_tok=2, n_shared_experts=0, intermediate_size=96)


def test_active_parameters_of_the_presets():
    with torch.device("meta"):
        moe = MiniMindForCausalLM(preset("minimind2-moe"))
        dense = MiniMindForCausalLM(preset("minimind2-small"))
    assert moe.num_parameters() == 145_029_760
    assert active_parameters(moe) == 145_029_760 - (4 - 2) * 8 * 3 * 640 * 1728 == 91_945_600
    assert active_parameters(dense) == dense.num_parameters()


def test_equal_active_parameters_and_flops():
    torch.manual_seed(0)
    dense, moe = MiniMindForCausalLM(byte_config()), MiniMindForCausalLM(byte_config(**MOE))
    router = 2 * 4 * 64  # two layers of (E, C) gates
    assert active_parameters(moe) - active_parameters(dense) == router
    ids = torch.randint(0, 256, (2, 16))
    # Every matmul weight does one multiply-add per token; norms are not matmuls.
    norms = 64 * (2 * 2 + 1)
    assert mm_flops_per_token(dense, ids) == 2 * (dense.num_parameters() - norms)
    assert mm_flops_per_token(moe, ids) - mm_flops_per_token(dense, ids) == 2 * router


def test_routing_counts_and_balance_match_the_gate():
    torch.manual_seed(0)
    model = MiniMindForCausalLM(byte_config(**MOE, seq_aux=False))
    ids = torch.randint(0, 256, (3, 20))
    model.train()
    model(ids)  # each layer stores alpha * E * sum f P over this batch
    expected = [layer.mlp.aux_loss.item() / model.config.aux_loss_alpha for layer in model.model.layers]
    stats = routing(model, ids, batch_size=3)
    assert stats["counts"].sum(dim=-1).tolist() == [3 * 20 * 2] * 2  # every token, k slots, per layer
    assert torch.allclose(stats["balance"], torch.tensor(expected), atol=1e-5)
    assert model.training  # restored


def test_load_stats_extremes():
    even = load_stats(torch.tensor([[5.0, 5.0, 5.0, 5.0]]))
    assert even["cv"][0] == 0 and math.isclose(even["entropy_bits"][0], 2.0, rel_tol=1e-6)
    two = load_stats(torch.tensor([[10.0, 10.0, 0.0, 0.0]]))
    assert math.isclose(two["cv"][0], max_cv(4, 2)) and math.isclose(two["entropy_bits"][0], 1.0, rel_tol=1e-6)
    assert two["max_share"][0] == 0.5


def test_train_lm_backpropagates_the_moe_penalty():
    text = "the cat sat on the mat. " * 200
    for alpha, positive in ((0.1, True), (0.0, False)):
        torch.manual_seed(0)
        model = MiniMindForCausalLM(byte_config(**MOE, aux_loss_alpha=alpha))
        seen = []
        log = train_lm(model, ByteBatches(text), 3, batch_size=2, seq_len=16, min_lr_ratio=0.1, on_step=seen.append)
        assert seen == [0, 1, 2, 3] and len(log.losses) == 3 and not model.training
        assert all((a > 0) == positive for a in log.aux_losses)
