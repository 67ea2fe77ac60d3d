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


@pytest.fixture(scope="session")
def _token_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("token-cache")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch, _token_cache):
    """No test reads or writes the real ~/.minimind (progress); one token cache per session. Training
    runs in fp32 unless a test asks for bf16, so no result depends on whether this CPU has bf16."""
    monkeypatch.setenv("MINIMIND_HOME", str(tmp_path_factory.mktemp("minimind-home")))
    monkeypatch.setenv("MINIMIND_CACHE", str(_token_cache))
    monkeypatch.setenv("MINIMIND_PRECISION", "fp32")
    monkeypatch.delenv("MINIMIND_LANG", raising=False)


@pytest.fixture(autouse=True)
def _wide_console():
    """The CLI's rich consoles are created once per process, so their width would depend on which test ran
    first (and on the terminal): every test sees 200 columns, so no message is wrapped mid-word."""
    from minimind_notes.cli import console

    widths = console.console.width, console.err_console.width
    console.console.width = console.err_console.width = 200
    yield
    console.console.width, console.err_console.width = widths
