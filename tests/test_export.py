"""`minimind export` with the weights' own tokenizer and chat template, a LoRA adapter merged first: transformers
loads the folder and computes the same logits, the same greedy tokens, and renders the same chat text."""

import stat

import pytest
import torch
from typer.testing import CliRunner

from minimind_notes.chat import load_for_inference
from minimind_notes.cli.app import app
from minimind_notes.data.tokenizer import train_tokenizer
from minimind_notes.data.tool_calls import DEMO_TOOLS
from minimind_notes.model import MiniMindForCausalLM, preset, save_checkpoint
from minimind_notes.model.lora import apply_lora, lora_state_dict
from tests.test_minimind3 import NO_TRANSFORMERS, assert_same_function, normal_mode
from tests.test_tokenizer_weights import CONVERSATIONS, VOCAB, texts

runner = CliRunner()
FILES = ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]


@pytest.fixture(scope="module")
def transformers():
    try:
        import transformers
    except ImportError:
        pytest.skip(NO_TRANSFORMERS)
    transformers.logging.set_verbosity_error()
    return transformers


def trained(root, generation: str):
    """A tokenizer of `generation` in root/tok and a tiny SFT checkpoint that records it, with random norms."""
    tok = train_tokenizer(texts(0), root / "tok", VOCAB, specials="minimind-3" if generation == "minimind-3"
                          else "minimind2")
    torch.manual_seed(0)
    base = preset("minimind-3" if generation == "minimind-3" else "tiny")
    model = MiniMindForCausalLM(base.replace(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2,
                                             num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                                             intermediate_size=128, max_position_embeddings=2048)).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    return tok, save_checkpoint(model, root / "full_sft_64.safetensors", tok.identity())


@pytest.mark.parametrize("generation", ["minimind-3", "MiniMind2"])
def test_export_writes_the_weights_tokenizer_and_transformers_agrees(transformers, tmp_path, generation):
    tok, weights = trained(tmp_path, generation)
    out = tmp_path / "hf"
    result = runner.invoke(app, ["export", str(weights), str(out), "--tokenizer", str(tok.path)])
    assert result.exit_code == 0, result.output
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == dict.fromkeys(FILES, normal_mode())
    ours, _, _ = load_for_inference(str(weights), str(tok.path))
    diff = assert_same_function(ours, transformers.AutoModelForCausalLM.from_pretrained(out).eval())
    print(f"{generation}: max |logit difference| {diff:.2e}")  # the parity figure (pytest -s shows it)
    hf_tok = transformers.AutoTokenizer.from_pretrained(out)
    conversations = CONVERSATIONS if generation == "minimind-3" else CONVERSATIONS[:1] + CONVERSATIONS[-1:]
    if generation == "minimind-3":
        conversations = [*conversations, ([{"role": "user", "content": "what time is it?"}],
                                          {"tools": DEMO_TOOLS, "add_generation_prompt": True, "open_thinking": True})]
    for messages, options in conversations:
        options = dict(options)
        tools, prompt = options.pop("tools", None), options.pop("add_generation_prompt", False)
        theirs = hf_tok.apply_chat_template(messages, tools=tools, add_generation_prompt=prompt, tokenize=False,
                                            **options)
        assert theirs == tok.apply_chat_template(messages, prompt, tools=tools, **options)
    assert hf_tok("hello world")["input_ids"] == tok.encode("hello world")
    assert hf_tok.eos_token == "<|im_end|>" and hf_tok.pad_token == "<|endoftext|>"


def test_export_picks_the_recorded_tokenizer_and_merges_a_lora_adapter(transformers, tmp_path):
    tok, weights = trained(tmp_path, "minimind-3")
    model, _, _ = load_for_inference(str(weights), str(tok.path))
    apply_lora(model, rank=4, alpha=8.0)
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)  # trained adapters are not zero
    lora = save_lora(model, tmp_path / "lora_64.safetensors", {**tok.identity(), "lora_alpha": "8.0"})
    out = tmp_path / "hf"
    # No --tokenizer: the one the weights record is not the shipped one, so it must be named ...
    result = runner.invoke(app, ["export", str(weights), str(out)])
    assert result.exit_code == 1 and "was trained with tokenizer tok" in result.output and not out.exists()
    # ... or found in a transformers folder: exported with the adapter merged, then exported again from there
    result = runner.invoke(app, ["export", str(weights), str(out), "--tokenizer", str(tok.path), "--lora", str(lora)])
    assert result.exit_code == 0, result.output
    merged, _, _ = load_for_inference(str(weights), str(tok.path), lora=str(lora))
    plain, _, _ = load_for_inference(str(weights), str(tok.path))
    theirs = transformers.AutoModelForCausalLM.from_pretrained(out).eval()
    assert_same_function(merged, theirs)
    ids = torch.arange(20).unsqueeze(0)
    with torch.no_grad():
        assert (plain(ids).logits - theirs(ids).logits).abs().max() > 1e-2  # the adapter is in the export
    again = runner.invoke(app, ["export", str(out), str(tmp_path / "hf2")])  # a folder brings its own tokenizer
    assert again.exit_code == 0, again.output
    assert (tmp_path / "hf2" / "tokenizer.json").read_bytes() == (out / "tokenizer.json").read_bytes()


def save_lora(model, path, metadata):
    from safetensors.torch import save_file

    save_file(lora_state_dict(model), str(path), metadata=metadata)
    return path

