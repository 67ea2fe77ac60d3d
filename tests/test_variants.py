"""The ablation models are built from the real components and default to the real model."""

import pytest
import torch

from minimind_notes.lab.variants import VariantConfig, VariantLM
from minimind_notes.model import MiniMindForCausalLM


def test_default_variant_is_minimind():
    torch.manual_seed(0)
    variant = VariantLM(VariantConfig())
    real = MiniMindForCausalLM(variant.config)
    real.load_state_dict(variant.state_dict(), strict=True)  # same names and shapes
    ids = torch.randint(0, 256, (2, 20))
    assert torch.allclose(variant(ids).logits, real(ids).logits, atol=1e-6)


@pytest.mark.parametrize("switch", [dict(norm="layer"), dict(norm="none"), dict(norm_position="post"),
                                    dict(ffn="gelu"), dict(ffn="relu"), dict(position="learned"),
                                    dict(position="none"), dict(residual=False)])
def test_every_variant_runs_and_ffn_parameters_match(switch):
    torch.manual_seed(0)
    model = VariantLM(VariantConfig(**switch))
    ids = torch.randint(0, 256, (2, 12))
    out = model(ids, labels=ids)
    assert out.logits.shape == (2, 12, 256) and torch.isfinite(out.loss)
    if "ffn" in switch:
        swiglu = sum(p.numel() for p in VariantLM(VariantConfig()).model.layers[0].mlp.parameters())
        assert sum(p.numel() for p in model.model.layers[0].mlp.parameters()) == swiglu
