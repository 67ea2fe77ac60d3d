"""Golden-output tests of the shared model: shapes, numerics and equivalences."""

import pytest
import torch
import torch.nn.functional as F

from minimind_notes.model import (
    MiniMindConfig,
    MiniMindForCausalLM,
    RMSNorm,
    SamplingConfig,
    apply_rotary_pos_emb,
    generate,
    precompute_freqs_cis,
    preset,
    repeat_kv,
)
from minimind_notes.model.config import default_intermediate_size
from tests.conftest import tiny_config


def test_parameter_counts_match_minimind2():
    counts = {name: MiniMindForCausalLM(preset(name)).num_parameters()
              for name in ("minimind2-small", "minimind2", "minimind2-moe")}
    assert counts == {"minimind2-small": 25_829_888, "minimind2": 104_030_976,
                      "minimind2-moe": 145_029_760}


def test_intermediate_size_rule():
    assert [default_intermediate_size(h) for h in (512, 640, 768)] == [1408, 1728, 2048]


def test_state_dict_keys_are_minimind2s():
    model = MiniMindForCausalLM(tiny_config(num_hidden_layers=1))
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == {
        "model.embed_tokens.weight": (128, 64),
        "model.layers.0.self_attn.q_proj.weight": (64, 64),
        "model.layers.0.self_attn.k_proj.weight": (32, 64),
        "model.layers.0.self_attn.v_proj.weight": (32, 64),
        "model.layers.0.self_attn.o_proj.weight": (64, 64),
        "model.layers.0.input_layernorm.weight": (64,),
        "model.layers.0.post_attention_layernorm.weight": (64,),
        "model.layers.0.mlp.gate_proj.weight": (192, 64),
        "model.layers.0.mlp.up_proj.weight": (192, 64),
        "model.layers.0.mlp.down_proj.weight": (64, 192),
        "model.norm.weight": (64,),
        "lm_head.weight": (128, 64),
    }
    assert model.lm_head.weight is model.model.embed_tokens.weight


def test_moe_state_dict_keys():
    model = MiniMindForCausalLM(tiny_config(num_hidden_layers=1, use_moe=True))
    keys = set(model.state_dict())
    assert "model.layers.0.mlp.gate.weight" in keys
    assert model.state_dict()["model.layers.0.mlp.gate.weight"].shape == (4, 64)
    assert {f"model.layers.0.mlp.experts.{j}.down_proj.weight" for j in range(4)} <= keys
    assert "model.layers.0.mlp.shared_experts.0.gate_proj.weight" in keys


def test_forward_shapes_and_loss():
    torch.manual_seed(0)
    model = MiniMindForCausalLM(tiny_config())
    ids = torch.randint(0, 128, (2, 10))
    out = model(ids, labels=ids)
    assert out.logits.shape == (2, 10, 128)
    manual = F.cross_entropy(out.logits[:, :-1].reshape(-1, 128), ids[:, 1:].reshape(-1))
    assert torch.allclose(out.loss, manual)
    labels = ids.clone()
    labels[:, :5] = -100  # ignored positions do not count
    masked = F.cross_entropy(out.logits[:, 4:-1].reshape(-1, 128), ids[:, 5:].reshape(-1))
    assert torch.allclose(model(ids, labels=labels).loss, masked)
    assert model(ids, logits_to_keep=1).logits.shape == (2, 1, 128)
    assert float(out.aux_loss) == 0.0


def test_rmsnorm_formula_and_float32():
    norm = RMSNorm(8)
    with torch.no_grad():
        norm.weight.copy_(torch.arange(1.0, 9.0))
    x = torch.randn(3, 8, requires_grad=True)
    expected = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * norm.weight
    assert torch.allclose(norm(x), expected, atol=1e-6)
    upstream = torch.randn(3, 8)
    grads = [torch.autograd.grad(y, (x, norm.weight), upstream) for y in (norm(x), expected)]
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*grads, strict=True))  # F.rms_norm's backward
    y = norm(x.bfloat16())
    assert y.dtype == torch.float32  # weight (fp32) applied after the cast back, as MiniMind2


@pytest.mark.parametrize("mask", [False, True])
def test_sdpa_equals_explicit_attention(mask):
    torch.manual_seed(0)
    cfg = tiny_config()
    model = MiniMindForCausalLM(cfg).eval()
    explicit = MiniMindForCausalLM(cfg.replace(flash_attn=False)).eval()
    explicit.load_state_dict(model.state_dict())
    ids = torch.randint(0, 128, (2, 12))
    am = torch.ones(2, 12, dtype=torch.long)
    if mask:
        am[0, :4] = 0  # left padding in row 0
    a = model(ids, attention_mask=am).logits
    b = explicit(ids, attention_mask=am).logits
    assert (a - b).abs().max() < 1e-5


def test_sdpa_training_path_gives_the_explicit_loss_and_gradients():
    """The training path (is_causal, enable_gqa: no repeat_kv) against the explicit one, grouped heads."""
    cfg = tiny_config()
    assert cfg.num_attention_heads > cfg.num_key_value_heads
    ids = torch.randint(0, 128, (2, 12), generator=torch.Generator().manual_seed(0))
    results = []
    for flash in (True, False):
        torch.manual_seed(1)
        model = MiniMindForCausalLM(cfg.replace(flash_attn=flash)).train()
        loss = model(ids, labels=ids).loss
        loss.backward()
        results.append((loss, {n: p.grad for n, p in model.named_parameters()}))
    (sdpa_loss, sdpa_grads), (explicit_loss, explicit_grads) = results
    assert torch.allclose(sdpa_loss, explicit_loss, atol=1e-6)
    for name, grad in sdpa_grads.items():
        assert torch.allclose(grad, explicit_grads[name], atol=1e-5), name


def test_explicit_attention_returns_weights():
    torch.manual_seed(0)
    model = MiniMindForCausalLM(tiny_config()).eval()
    with torch.no_grad():
        out = model(torch.randint(0, 128, (1, 6)), output_attentions=True)
    w = out.attentions[0]
    assert w.shape == (1, 4, 6, 6)
    assert torch.allclose(w.sum(-1), torch.ones(1, 4, 6))
    assert float(w.triu(1).abs().max()) == 0.0  # causal: nothing from the future


def test_repeat_kv():
    x = torch.randn(2, 5, 2, 8)
    y = repeat_kv(x, 3)
    assert y.shape == (2, 5, 6, 8)
    assert torch.equal(y[:, :, 0], y[:, :, 2]) and torch.equal(y[:, :, 3], x[:, :, 1])


def test_rope_attention_depends_only_on_relative_position():
    torch.manual_seed(0)
    hd = 16
    cos, sin = precompute_freqs_cis(hd, 64, 1e6)
    q, k = torch.randn(1, 1, 1, hd, dtype=torch.float64), torch.randn(1, 1, 1, hd, dtype=torch.float64)
    cos, sin = cos.double(), sin.double()

    def score(m, n):
        qm, _ = apply_rotary_pos_emb(q, q, cos[m:m + 1], sin[m:m + 1])
        _, kn = apply_rotary_pos_emb(k, k, cos[n:n + 1], sin[n:n + 1])
        return float((qm * kn).sum())

    for shift in (1, 7, 30):
        assert score(5 + shift, 2 + shift) == pytest.approx(score(5, 2), abs=1e-5)  # fp32 tables
    assert abs(score(5, 2) - score(5, 4)) > 1e-3  # but it does depend on the offset


def test_yarn_scales_low_frequencies():
    cfg = MiniMindConfig(inference_rope_scaling=True)
    cos_p, sin_p = precompute_freqs_cis(64, 2, 1e6)
    cos_s, sin_s = precompute_freqs_cis(64, 32768, 1e6, cfg.rope_scaling)
    ratio = torch.atan2(sin_s[1, :32], cos_s[1, :32]) / torch.atan2(sin_p[1, :32], cos_p[1, :32])
    assert ratio[-1] == pytest.approx(1 / 4, rel=1e-3)  # slowest pair: divided by the factor
    assert ratio[0] == pytest.approx(1.0, rel=1e-3)  # fastest pair, beta_slow=1: (f-1+1)/f = 1


def test_kv_cache_greedy_equals_no_cache(tiny_model):
    prompt = torch.tensor([[5, 17, 42, 9]])
    cfg = SamplingConfig(max_new_tokens=30, temperature=0, eos_token_id=None)
    with_cache = generate(tiny_model, prompt, cfg=cfg, use_cache=True)
    without = generate(tiny_model, prompt, cfg=cfg, use_cache=False)
    assert with_cache.shape == (1, 34)
    assert torch.equal(with_cache, without)


def test_kv_cache_logits_equal_full_forward(tiny_model):
    ids = torch.randint(0, 128, (2, 9))
    full = tiny_model(ids).logits
    out = tiny_model(ids[:, :5], use_cache=True)
    step = tiny_model(ids[:, 5:], past_key_values=out.past_key_values).logits
    assert (full[:, 5:] - step).abs().max() < 1e-10


def test_batched_left_padded_generation_equals_single(tiny_model):
    cfg = SamplingConfig(max_new_tokens=8, temperature=0, eos_token_id=None)
    a, b = [3, 4, 5, 6, 7], [8, 9]
    batch = torch.tensor([a, [0, 0, 0] + b])
    mask = torch.tensor([[1] * 5, [0, 0, 0, 1, 1]])
    out = generate(tiny_model, batch, attention_mask=mask, cfg=cfg)
    assert torch.equal(out[0, 5:], generate(tiny_model, torch.tensor([a]), cfg=cfg)[0, 5:])
    assert torch.equal(out[1, 5:], generate(tiny_model, torch.tensor([b]), cfg=cfg)[0, 2:])


def test_eos_stops_and_sampling_is_seeded(tiny_model):
    prompt = torch.tensor([[5, 17]])
    first = generate(tiny_model, prompt, cfg=SamplingConfig(max_new_tokens=5, temperature=0,
                                                            eos_token_id=None))[0, 2].item()
    stopped = generate(tiny_model, prompt, cfg=SamplingConfig(max_new_tokens=5, temperature=0,
                                                              eos_token_id=first))
    assert stopped.shape == (1, 3)
    cfg = SamplingConfig(max_new_tokens=10, temperature=1.0, top_k=20, top_p=0.9,
                         repetition_penalty=1.2, eos_token_id=None)
    s1 = generate(tiny_model, prompt, cfg=cfg, generator=torch.Generator().manual_seed(1))
    s2 = generate(tiny_model, prompt, cfg=cfg, generator=torch.Generator().manual_seed(1))
    assert torch.equal(s1, s2)


def test_top_k_top_p_filter():
    from minimind_notes.model.generation import apply_repetition_penalty, filter_top_k_top_p

    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = torch.isfinite(filter_top_k_top_p(logits, top_p=0.7))
    assert kept.tolist() == [[True, True, False, False]]
    kept = torch.isfinite(filter_top_k_top_p(logits, top_k=3))
    assert kept.tolist() == [[True, True, True, False]]
    pen = apply_repetition_penalty(torch.tensor([[2.0, -2.0, 1.0]]), torch.tensor([[0, 1]]), 2.0)
    assert pen.tolist() == [[1.0, -4.0, 1.0]]


def test_moe_forward_and_aux_loss():
    torch.manual_seed(0)
    model = MiniMindForCausalLM(tiny_config(use_moe=True))
    ids = torch.randint(0, 128, (2, 16))
    model.train()
    out = model(ids, labels=ids)
    assert out.logits.shape == (2, 16, 128)
    # A balanced router gives aux ~ alpha per layer: load 1 for each expert x mean prob 1/E x E.
    assert 0.05 < float(out.aux_loss.detach()) / 2 < 0.3
    (out.loss + out.aux_loss).backward()
    gate = model.model.layers[0].mlp.gate.weight
    assert gate.grad is not None and gate.grad.abs().sum() > 0
    model.eval()
    assert float(model(ids).aux_loss) == 0.0


def test_moe_matches_dense_reference():
    """Route by hand and compare: each token = weighted top-k experts + shared expert."""
    torch.manual_seed(0)
    model = MiniMindForCausalLM(tiny_config(use_moe=True, num_hidden_layers=1)).double().eval()
    moe = model.model.layers[0].mlp
    x = torch.randn(1, 5, 64, dtype=torch.float64)
    scores = (x[0] @ moe.gate.weight.t()).softmax(-1)
    w, idx = scores.topk(2, dim=-1)
    w = w / w.sum(-1, keepdim=True)
    ref = torch.stack([
        sum(w[t, j] * moe.experts[int(idx[t, j])](x[0, t]) for j in range(2))
        + moe.shared_experts[0](x[0, t]) for t in range(5)])
    assert (moe(x)[0] - ref).abs().max() < 1e-10


def test_config_validation_message():
    with pytest.raises(ValueError, match="num_key_value_heads"):
        MiniMindConfig(num_attention_heads=8, num_key_value_heads=3)



def test_preallocated_cache_gives_the_tokens_of_the_concatenated_one(tiny_model):
    from minimind_notes.bench.model_bench import greedy_concatenated_cache

    prompt = torch.tensor([[5, 17, 42, 9, 77, 3]])
    cfg = SamplingConfig(max_new_tokens=24, temperature=0, eos_token_id=None)
    assert torch.equal(generate(tiny_model, prompt, cfg=cfg), greedy_concatenated_cache(tiny_model, prompt, 24))


def test_kv_buffer_logits_equal_full_forward_with_padding(tiny_model):
    from minimind_notes.model.attention import KVBuffer

    ids = torch.randint(3, 128, (2, 9))
    mask = torch.ones(2, 9, dtype=torch.long)
    mask[1, :3] = 0  # a left-padded row: the grouped path repeats its mask for every query head
    full = tiny_model(ids, attention_mask=mask).logits
    buffers = [KVBuffer(9) for _ in range(tiny_model.config.num_hidden_layers)]
    first = tiny_model(ids[:, :5], attention_mask=mask[:, :5], past_key_values=buffers, use_cache=True).logits
    step = tiny_model(ids[:, 5:], attention_mask=mask, past_key_values=buffers, use_cache=True).logits
    assert buffers[0].length == 9
    assert (full[1, 3:] - torch.cat([first, step], 1)[1, 3:]).abs().max() < 1e-5
    assert (full[0] - torch.cat([first, step], 1)[0]).abs().max() < 1e-5


@pytest.mark.slow  # a gloo process group: seconds to start
def test_generate_through_ddp_uses_the_wrapped_models_layers(tiny_model, tmp_path):
    """GRPO's rollouts call generate on the DDP-wrapped model: the buffers come from its .module."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        cfg = SamplingConfig(max_new_tokens=5, temperature=0, eos_token_id=None)
        prompt = torch.tensor([[5, 6, 7]])
        assert torch.equal(generate(DDP(tiny_model), prompt, cfg=cfg), generate(tiny_model, prompt, cfg=cfg))
    finally:
        dist.destroy_process_group()


def test_causal_sdpa_under_bf16_autocast_matches_float32_within_bf16_rounding():
    """On a CPU bf16 attention runs in float32 (faster there); the result comes back in bf16."""
    from minimind_notes.model.attention import causal_sdpa

    torch.manual_seed(0)
    q, k, v = torch.randn(2, 4, 16, 8), torch.randn(2, 2, 16, 8), torch.randn(2, 2, 16, 8)
    reference = causal_sdpa(q, k, v)
    expected = F.scaled_dot_product_attention(q, repeat_kv(k.transpose(1, 2), 2).transpose(1, 2),
                                              repeat_kv(v.transpose(1, 2), 2).transpose(1, 2), is_causal=True)
    assert torch.allclose(reference, expected, atol=1e-6)
    with torch.autocast("cpu", torch.bfloat16):
        y = causal_sdpa(q.bfloat16(), k.bfloat16(), v.bfloat16())
    assert y.dtype == torch.bfloat16 and (y.float() - reference).abs().max() < 3e-2
