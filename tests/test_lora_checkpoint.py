"""LoRA, checkpoint I/O and Hugging Face export."""

import pytest
import torch

from minimind_notes.errors import MiniMindError
from minimind_notes.model import (
    CheckpointMismatch,
    MiniMindForCausalLM,
    apply_lora,
    load_model,
    load_weights,
    lora_state_dict,
    merge_lora,
    read_state_dict,
    save_checkpoint,
)
from minimind_notes.model.lora import load_lora_state_dict
from tests.conftest import tiny_config


def trained_lora_model():
    torch.manual_seed(0)
    model = MiniMindForCausalLM(tiny_config())
    trainable = apply_lora(model, rank=4, alpha=8)
    with torch.no_grad():  # pretend training moved B away from zero
        for name, p in model.named_parameters():
            if name.endswith("lora_B"):
                p.normal_(std=0.05)
    return model, trainable


def test_lora_trains_only_adapters():
    torch.manual_seed(0)
    model = MiniMindForCausalLM(tiny_config())
    ids = torch.randint(0, 128, (2, 8))
    before = model(ids).logits
    trainable = apply_lora(model, rank=4, alpha=8)
    # 7 projections per layer x 2 layers, each rank*(in+out)
    per_layer = 4 * ((64 + 64) * 2 + (64 + 32) * 2 + (64 + 192) * 2 + (192 + 64))
    assert trainable == 2 * per_layer
    assert torch.equal(model(ids).logits, before)  # B = 0: starts exactly at the base model
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert names and all(".lora_" in n for n in names)
    model(ids, labels=ids).loss.backward()
    assert model.model.layers[0].self_attn.q_proj.weight.grad is None
    assert float(model.model.layers[0].self_attn.q_proj.lora_A.grad.abs().sum()) == 0  # B = 0
    assert model.model.layers[0].self_attn.q_proj.lora_B.grad.abs().sum() > 0


def test_lora_merge_equals_unmerged():
    model, _ = trained_lora_model()
    ids = torch.randint(0, 128, (2, 8))
    with torch.no_grad():
        unmerged = model(ids).logits
        merge_lora(model)
        merged = model(ids).logits
    assert (unmerged - merged).abs().max() < 1e-5
    assert not any(".lora_" in k for k in model.state_dict())


def test_lora_save_load_only_adapters(tmp_path):
    model, trainable = trained_lora_model()
    state = lora_state_dict(model)
    assert sum(v.numel() for v in state.values()) == trainable
    from safetensors.torch import load_file, save_file

    save_file(state, str(tmp_path / "lora.safetensors"))
    base = MiniMindForCausalLM(tiny_config())
    base.load_state_dict({k: v for k, v in model.state_dict().items() if ".lora_" not in k})
    apply_lora(base, rank=4, alpha=8)
    load_lora_state_dict(base, load_file(str(tmp_path / "lora.safetensors")))
    ids = torch.randint(0, 128, (1, 6))
    assert torch.equal(base(ids).logits, model(ids).logits)
    other_rank = MiniMindForCausalLM(tiny_config())
    apply_lora(other_rank, rank=2)
    with pytest.raises(CheckpointMismatch, match="mis-shaped"):
        load_lora_state_dict(other_rank, state)


def test_save_load_round_trip_is_bit_exact(tmp_path):
    torch.manual_seed(0)
    model = MiniMindForCausalLM(tiny_config(use_moe=True))
    path = save_checkpoint(model, tmp_path / "ckpt.safetensors")
    loaded = load_model(path)  # config read from the file's metadata
    assert loaded.config == model.config
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    assert loaded.lm_head.weight is loaded.model.embed_tokens.weight


def test_pth_with_wrapper_prefixes_loads(tmp_path):
    torch.manual_seed(0)
    model = MiniMindForCausalLM(tiny_config())
    state = {f"_orig_mod.module.{k}": v.half() for k, v in model.state_dict().items()}
    torch.save(state, tmp_path / "pretrain_64.pth")  # official MiniMind .pth files are fp16
    fresh = MiniMindForCausalLM(tiny_config())
    load_weights(fresh, tmp_path / "pretrain_64.pth")
    assert torch.equal(fresh.model.norm.weight, model.model.norm.weight.half().float())
    inferred = load_model(tmp_path / "pretrain_64.pth", config=None)
    assert inferred.config.hidden_size == 64 and inferred.config.num_hidden_layers == 2


def test_mismatched_checkpoint_gives_one_clear_message(tmp_path):
    model = MiniMindForCausalLM(tiny_config())
    state = model.state_dict()
    state["model.layers.0.self_attn.query.weight"] = state.pop("model.layers.0.self_attn.q_proj.weight")
    torch.save(state, tmp_path / "renamed.pth")
    with pytest.raises(CheckpointMismatch) as info:
        load_weights(MiniMindForCausalLM(tiny_config()), tmp_path / "renamed.pth")
    text = str(info.value)
    assert "missing (1): model.layers.0.self_attn.q_proj.weight" in text
    assert "unexpected (1): model.layers.0.self_attn.query.weight" in text
    bigger = MiniMindForCausalLM(tiny_config(num_hidden_layers=3))
    torch.save(bigger.state_dict(), tmp_path / "bigger.pth")
    with pytest.raises(CheckpointMismatch) as info:
        load_weights(MiniMindForCausalLM(tiny_config()), tmp_path / "bigger.pth")
    assert "num_hidden_layers=3" in str(info.value)


def test_missing_and_corrupt_checkpoint(tmp_path):
    with pytest.raises(MiniMindError, match="not found"):
        read_state_dict(tmp_path / "nope.pth")
    (tmp_path / "bad.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(MiniMindError, match="cannot read checkpoint"):
        read_state_dict(tmp_path / "bad.safetensors")


def test_hf_export_parity(tmp_path):
    transformers = pytest.importorskip("transformers")
    from minimind_notes.model.export import export_hf

    torch.manual_seed(0)
    model = MiniMindForCausalLM(tiny_config()).eval()
    export_hf(model, tmp_path / "hf")
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    ids = torch.randint(0, 128, (2, 16))
    with torch.no_grad():
        diff = (hf(ids).logits - model(ids).logits).abs().max()
    assert diff < 1e-4
