"""minimind-3 beside MiniMind2: presets, QK-norm, top-1 MoE, loading its checkpoints, and parity with
transformers (Qwen3, Qwen3-MoE; the export of every generation) on tiny random models."""

import json
import math
import os
import stat

import pytest
import torch

from minimind_notes.errors import MiniMindError
from minimind_notes.model import (
    CheckpointMismatch,
    MiniMindConfig,
    MiniMindForCausalLM,
    SamplingConfig,
    generate,
    load_model,
    load_weights,
    preset,
    save_checkpoint,
)
from minimind_notes.model.attention import Attention
from minimind_notes.model.config import MINIMIND3, MINIMIND3_MOE, default_intermediate_size
from minimind_notes.model.export import export_hf
from minimind_notes.model.hf_format import hf_config
from minimind_notes.model.rope import apply_rotary_pos_emb, precompute_freqs_cis
from tests.conftest import tiny_config
from tests.faults.test_messages import cli, failed

NO_TRANSFORMERS = "transformers is not installed: the parity tests against it need it (pip install transformers)"
GREEDY = SamplingConfig(max_new_tokens=12, temperature=0, eos_token_id=None)


def tiny3(**overrides) -> MiniMindConfig:
    """A tiny minimind-3: head_dim 24 on hidden 64 with 4 heads, so nothing may assume hidden / heads."""
    return tiny_config(**{**MINIMIND3, "head_dim": 24, **overrides})


def tiny3_moe(**overrides) -> MiniMindConfig:
    return tiny3(**{**MINIMIND3_MOE, **overrides})


def random_model(config: MiniMindConfig, seed: int = 0) -> MiniMindForCausalLM:
    """Random weights, norms included (a norm weight of 1 would hide a transposed or skipped norm)."""
    torch.manual_seed(seed)
    model = MiniMindForCausalLM(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    return model


def normal_mode() -> int:
    """What a new file gets from open(): 0644 under the usual umask (never mkstemp's or safetensors' 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def logits_and_greedy(model, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        return model(ids).logits, generate(model, ids[:1], cfg=GREEDY)


IDS = torch.randint(0, 128, (2, 20), generator=torch.Generator().manual_seed(1))


# -- config and presets ----------------------------------------------------------------------------


def test_preset_parameter_counts_are_minimind3s():
    with torch.device("meta"):  # counts need shapes, not 800 MB of weights
        counts = {name: MiniMindForCausalLM(preset(name)).num_parameters() for name in ("minimind-3", "minimind-3-moe")}
    assert counts == {"minimind-3": 63_912_192, "minimind-3-moe": 198_416_640}
    c = preset("minimind-3")
    assert (c.head_dim, c.intermediate_size, c.num_key_value_heads, c.rms_norm_eps) == (96, 2432, 4, 1e-6)
    assert default_intermediate_size(768, "pi") == 2432 == 64 * math.ceil(768 * math.pi / 64)


def test_minimind3_state_dict_keys():
    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in MiniMindForCausalLM(preset("minimind-3-moe")).state_dict().items()
                  if k.startswith("model.layers.0.")}
    assert shapes["model.layers.0.self_attn.q_norm.weight"] == shapes["model.layers.0.self_attn.k_norm.weight"] == (96,)
    assert shapes["model.layers.0.self_attn.k_proj.weight"] == (384, 768)
    assert shapes["model.layers.0.mlp.gate.weight"] == (4, 768)
    assert shapes["model.layers.0.mlp.experts.3.down_proj.weight"] == (768, 2432)
    assert not any("shared_experts" in k for k in shapes)


def test_config_round_trip_and_old_configs_load_as_minimind2():
    for name in ("minimind-3", "minimind-3-moe", "minimind2"):
        config = preset(name, inference_rope_scaling=True)
        assert MiniMindConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    new_fields = {"head_dim", "qk_norm", "intermediate_size_rule", "norm_top1_prob"}
    old = {k: v for k, v in MiniMindConfig().to_dict().items()  # a config saved before minimind-3
           if k not in new_fields and not k.startswith("yarn_")}
    assert MiniMindConfig.from_dict(old) == MiniMindConfig()
    assert MiniMindConfig(inference_rope_scaling=True).rope_scaling == {
        "type": "yarn", "variant": "minimind2", "factor": 4.0, "original_max_position_embeddings": 2048,
        "beta_fast": 4.0, "beta_slow": 1.0, "attention_factor": 1.0}
    smaller = preset("minimind-3").replace(hidden_size=512)  # widths follow minimind-3's rules
    assert (smaller.intermediate_size, smaller.head_dim) == (1664, 64)
    assert tiny3().replace(hidden_size=128).head_dim == 24  # an explicit head_dim stays


# -- the model's parts -----------------------------------------------------------------------------


def test_qk_norm_is_applied_per_head_before_rope():
    torch.manual_seed(0)
    attn = Attention(tiny3(num_key_value_heads=4)).eval()
    with torch.no_grad():
        attn.q_norm.weight.uniform_(0.5, 1.5)
        attn.k_norm.weight.uniform_(0.5, 1.5)
    x = torch.randn(1, 5, 64)
    cos, sin = precompute_freqs_cis(24, 5)
    out, _, _ = attn(x, (cos, sin))

    def rms(v, w):
        return w * v / (v.pow(2).mean(-1, keepdim=True) + 1e-6).sqrt()

    q = rms(attn.q_proj(x).view(1, 5, 4, 24), attn.q_norm.weight)
    k = rms(attn.k_proj(x).view(1, 5, 4, 24), attn.k_norm.weight)
    q, k = (t.transpose(1, 2) for t in apply_rotary_pos_emb(q, k, cos, sin))
    v = attn.v_proj(x).view(1, 5, 4, 24).transpose(1, 2)
    scores = (q @ k.transpose(-2, -1) / math.sqrt(24)).masked_fill(torch.ones(5, 5).triu(1).bool(), -math.inf)
    ref = attn.o_proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(1, 5, 96))
    assert (out - ref).abs().max() < 1e-5


def test_head_dim_apart_from_hidden_over_heads_works_with_the_kv_cache():
    model = random_model(tiny3())
    with torch.no_grad():
        out = model(IDS, use_cache=True)
    assert out.past_key_values[0][0].shape == (2, 20, 2, 24)  # (B, T, n_kv, head_dim)
    prompt = IDS[:1, :6]
    assert torch.equal(generate(model, prompt, cfg=GREEDY), generate(model, prompt, cfg=GREEDY, use_cache=False))


def test_top1_routing_weight_is_one_with_renormalisation_and_the_raw_probability_without():
    torch.manual_seed(0)
    x = torch.randn(1, 7, 64)
    m3 = MiniMindForCausalLM(tiny3_moe()).model.layers[0].mlp
    _, weight, _ = m3.gate(x)
    assert torch.equal(weight, torch.ones(7, 1))
    m2 = MiniMindForCausalLM(tiny_config(use_moe=True, num_experts_per_tok=1)).model.layers[0].mlp
    _, weight, _ = m2.gate(x)  # MiniMind2 keeps the raw top-1 probability (the router's main-loss gradient)
    assert bool((weight < 1).all())
    assert len(m3.shared_experts) == 0
    expected = torch.stack([m3.experts[int(i)](x[0, t]) for t, i in enumerate(m3.gate(x)[0][:, 0])])
    assert (m3(x)[0] - expected).abs().max() < 1e-6


def test_minimind3_moe_aux_loss_is_switch_style():
    torch.manual_seed(0)
    moe = MiniMindForCausalLM(tiny3_moe()).train().model.layers[0].mlp
    x = torch.randn(2, 9, 64)
    idx, _, aux = moe.gate(x)
    scores = (x.reshape(-1, 64) @ moe.gate.weight.t()).softmax(-1)
    load = torch.nn.functional.one_hot(idx[:, 0], 4).float().mean(0)
    assert torch.allclose(aux, (load * scores.mean(0)).sum() * 4 * 5e-4)


# -- MiniMind's own checkpoints --------------------------------------------------------------------


@pytest.mark.parametrize("make", [tiny3, tiny3_moe], ids=["dense", "moe"])
def test_pth_checkpoint_loads_as_minimind3(tmp_path, make):
    model = random_model(make())
    torch.save(model.state_dict(), tmp_path / "full_sft_64.pth")  # what MiniMind's trainers write
    loaded = load_model(tmp_path / "full_sft_64.pth").eval()  # no config: read from the keys and shapes
    c = loaded.config
    assert (c.qk_norm, c.head_dim, c.num_attention_heads, c.num_key_value_heads) == (True, 24, 4, 2)
    assert c.rms_norm_eps == 1e-6
    assert (c.use_moe, c.n_shared_experts, c.num_experts_per_tok, c.norm_top1_prob) == (
        (True, 0, 1, True) if make is tiny3_moe else (False, 1, 2, False))
    (want, want_tokens), (got, got_tokens) = logits_and_greedy(model, IDS), logits_and_greedy(loaded, IDS)
    assert (got - want).abs().max() < 1e-4 and torch.equal(got_tokens, want_tokens)
    for dtype in (torch.float16, torch.bfloat16):  # MiniMind saves half precision
        torch.save({k: v.to(dtype) for k, v in model.state_dict().items()}, tmp_path / "half.pth")
        rounded = random_model(make())
        rounded.load_state_dict({k: v.to(dtype) for k, v in model.state_dict().items()})
        assert torch.equal(load_model(tmp_path / "half.pth").eval()(IDS).logits, rounded(IDS).logits)


def test_safetensors_round_trip_keeps_the_minimind3_config(tmp_path):
    model = random_model(tiny3_moe(inference_rope_scaling=True, max_position_embeddings=4096))
    path = save_checkpoint(model, tmp_path / "m3.safetensors")
    assert stat.S_IMODE(path.stat().st_mode) == normal_mode()
    loaded = load_model(path).eval()
    assert loaded.config == model.config and torch.equal(loaded(IDS).logits, model(IDS).logits)


def minimind_json(config: MiniMindConfig) -> dict:
    """config.json as MiniMind's own save_pretrained writes it (model_type "minimind", remote code)."""
    common = dict(architectures=["MiniMindForCausalLM"], model_type="minimind", hidden_size=config.hidden_size,
                  num_hidden_layers=config.num_hidden_layers, use_moe=config.use_moe, vocab_size=config.vocab_size,
                  num_attention_heads=config.num_attention_heads, num_key_value_heads=config.num_key_value_heads,
                  max_position_embeddings=config.max_position_embeddings, rms_norm_eps=config.rms_norm_eps,
                  rope_theta=config.rope_theta, inference_rope_scaling=config.inference_rope_scaling,
                  rope_scaling=None if config.rope_scaling is None else {**config.rope_scaling, "type": "yarn"})
    if not config.qk_norm:  # MiniMind2's names
        return {**common, "n_routed_experts": 4, "n_shared_experts": 1, "aux_loss_alpha": config.aux_loss_alpha}
    return {**common, "head_dim": config.head_dim, "num_experts": 4, "num_experts_per_tok": 1,
            "moe_intermediate_size": config.intermediate_size, "norm_topk_prob": True, "router_aux_loss_coef": 5e-4}


@pytest.mark.parametrize("config", [
    tiny3_moe(inference_rope_scaling=True, max_position_embeddings=4096, yarn_original_max_position_embeddings=256),
    tiny_config(num_attention_heads=2, num_key_value_heads=1, rms_norm_eps=1e-6),  # heads only config.json tells
], ids=["minimind-3-moe", "minimind2"])
def test_minimind_own_transformers_folder_loads(tmp_path, config):
    model = random_model(config)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")  # MiniMind saves with safe_serialization=False
    (tmp_path / "config.json").write_text(json.dumps(minimind_json(config)))
    loaded = load_model(tmp_path).eval()
    assert loaded.config.to_dict() == {**model.config.to_dict(), "dropout": 0.0}
    assert torch.equal(loaded(IDS).logits, model(IDS).logits)


def test_a_checkpoint_of_the_other_generation_is_named_in_the_hint(tmp_path):
    torch.save(random_model(tiny3_moe()).state_dict(), tmp_path / "m3.pth")
    with pytest.raises(CheckpointMismatch) as info:
        load_weights(MiniMindForCausalLM(tiny_config()), tmp_path / "m3.pth")
    assert "minimind-3-moe checkpoint" in info.value.hint and "load_model(path)" in info.value.hint
    torch.save(random_model(tiny_config()).state_dict(), tmp_path / "m2.pth")
    with pytest.raises(CheckpointMismatch) as info:
        load_weights(MiniMindForCausalLM(tiny3()), tmp_path / "m2.pth")
    assert "MiniMind2 checkpoint" in info.value.hint


# -- transformers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def transformers():
    try:
        import transformers
    except ImportError:
        pytest.skip(NO_TRANSFORMERS)
    transformers.logging.set_verbosity_error()  # its load report on stdout
    return transformers


def assert_same_function(ours, theirs) -> float:
    """Equal logits (< 1e-4 in fp32) and equal greedy tokens; returns the largest logit difference."""
    with torch.no_grad():
        diff = float((ours(IDS).logits - theirs(IDS).logits).abs().max())
        tokens = theirs.generate(IDS[:1], max_new_tokens=GREEDY.max_new_tokens, do_sample=False)
    assert diff < 1e-4
    assert torch.equal(generate(ours, IDS[:1], cfg=GREEDY), tokens)
    return diff


def randomize(hf_model) -> None:
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in hf_model.named_parameters():
            p.copy_(torch.rand_like(p) + 0.5 if "norm" in name else torch.randn_like(p) * 0.05)


@pytest.mark.parametrize("kind", ["qwen3", "qwen3_moe", "qwen3_moe_top2"])
def test_transformers_qwen3_folders_load_with_the_same_logits(transformers, tmp_path, kind):
    common = dict(vocab_size=128, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                  head_dim=24, intermediate_size=80, max_position_embeddings=256, tie_word_embeddings=kind == "qwen3")
    if kind == "qwen3":
        theirs = transformers.Qwen3ForCausalLM(transformers.Qwen3Config(**common))
    else:
        theirs = transformers.Qwen3MoeForCausalLM(transformers.Qwen3MoeConfig(
            **common, num_experts=4, num_experts_per_tok=1 if kind == "qwen3_moe" else 2, moe_intermediate_size=48,
            norm_topk_prob=True))
    randomize(theirs)
    theirs.eval().save_pretrained(tmp_path / "hf", max_shard_size="100KB" if kind == "qwen3" else "1GB")
    ours = load_model(tmp_path / "hf").eval()
    assert ours.config.qk_norm and ours.config.use_moe == (kind != "qwen3")
    assert_same_function(ours, theirs)


def test_fused_experts_of_transformers_5_load(transformers, tmp_path):
    theirs = transformers.Qwen3MoeForCausalLM(transformers.Qwen3MoeConfig(
        vocab_size=128, hidden_size=64, num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2,
        head_dim=16, num_experts=4, num_experts_per_tok=1, moe_intermediate_size=48, norm_topk_prob=True))
    randomize(theirs)
    theirs.eval().save_pretrained(tmp_path / "hf", save_original_format=False)  # experts.gate_up_proj (E, 2I, C)
    assert_same_function(load_model(tmp_path / "hf").eval(), theirs)


@pytest.mark.parametrize("make", [
    tiny3, tiny3_moe, lambda: tiny_config(use_moe=True), lambda: tiny_config(use_moe=True, n_shared_experts=2),
    lambda: tiny_config(), lambda: tiny3(inference_rope_scaling=True, max_position_embeddings=4096,
                                         yarn_original_max_position_embeddings=256),
], ids=["minimind-3", "minimind-3-moe", "minimind2-moe", "minimind2-moe-2-shared", "minimind2", "minimind-3-yarn"])
def test_export_computes_the_same_function(transformers, tmp_path, make):
    model = random_model(make())
    export_dir = tmp_path / "hf"
    export_hf(model, export_dir)  # the tokenizer's files: tests/test_export.py
    files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in export_dir.iterdir()}
    assert files == dict.fromkeys(["config.json", "generation_config.json", "model.safetensors"], normal_mode())
    theirs = transformers.AutoModelForCausalLM.from_pretrained(export_dir).eval()
    assert_same_function(model, theirs)
    assert_same_function(load_model(export_dir).eval(), theirs)  # and back, from the folder or its weights file
    assert_same_function(load_model(export_dir / "model.safetensors").eval(), theirs)
    if model.config.inference_rope_scaling:  # YaRN matters: without it the logits differ
        plain = random_model(make().replace(inference_rope_scaling=False))
        assert (plain(IDS).logits - model(IDS).logits).abs().max() > 1e-3


def test_what_no_transformers_architecture_computes_is_refused(tmp_path):
    cases = {"QK-norm and shared experts": tiny3_moe(n_shared_experts=1),
             "without a shared expert": tiny_config(use_moe=True, n_shared_experts=0),
             "MiniMind2's YaRN": tiny_config(inference_rope_scaling=True, max_position_embeddings=4096)}
    for reason, config in cases.items():
        with pytest.raises(MiniMindError, match=reason):
            export_hf(MiniMindForCausalLM(config), tmp_path / "hf")
        assert not (tmp_path / "hf").exists()


def test_folders_minimind_cannot_compute_are_refused(tmp_path):
    with pytest.raises(MiniMindError, match="is a folder without config.json"):
        load_model(tmp_path)
    good = hf_config(tiny3())
    for change, reason in [({"model_type": "mistral"}, "model_type 'mistral'"),
                           ({"attention_bias": True}, "no attention_bias"),
                           ({"rope_parameters": {"rope_type": "llama3", "factor": 8.0}}, "no rope"),
                           ({"hidden_size": None}, "cannot read .*config.json"),
                           ({"num_attention_heads": 5}, "cannot read .*config.json")]:
        hf = {k: v for k, v in {**good, **change}.items() if v is not None}  # None: the field left out
        (tmp_path / "config.json").write_text(json.dumps(hf))
        with pytest.raises(MiniMindError, match=reason):
            load_model(tmp_path)


@pytest.mark.slow
def test_cli_exports_a_minimind3_pth(tmp_path):
    from minimind_notes.data.tokenizer import train_tokenizer

    torch.save(random_model(tiny3_moe(vocab_size=300)).state_dict(), tmp_path / "full_sft_64_moe.pth")
    out = cli("export", tmp_path / "full_sft_64_moe.pth", tmp_path / "hf")  # official weights need their tokenizer
    failed(out, "holds official minimind-3-moe weights, which need minimind-3's own tokenizer", "--tokenizer DIR")
    train_tokenizer(["a few words of text"] * 10, tmp_path, 300, specials="minimind-3")  # beside the weights
    out = cli("export", tmp_path / "full_sft_64_moe.pth", tmp_path / "hf")
    assert out.returncode == 0, out.stderr
    assert "Qwen3MoeForCausalLM" in out.stdout and "Using " in out.stderr
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["model_type"] == "qwen3_moe"
    failed(cli("export", tmp_path, tmp_path / "hf2"), f"checkpoint {tmp_path} is a folder without config.json",
           "transformers folder")
