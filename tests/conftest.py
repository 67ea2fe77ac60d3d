import pytest
import torch

from minimind_notes.model import MiniMindConfig, MiniMindForCausalLM


def tiny_config(**overrides) -> MiniMindConfig:
    base = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                vocab_size=128, max_position_embeddings=256)
    return MiniMindConfig(**{**base, **overrides})


@pytest.fixture
def tiny_model():
    """A seeded float64 model with sharpened logits, so greedy argmax ties never happen."""
    torch.manual_seed(0)
    model = MiniMindForCausalLM(tiny_config()).double().eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(20)
    return model
