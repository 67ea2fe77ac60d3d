"""`minimind bench model`: training and generation speed of the model, against the
machine's own matmul peak and against Hugging Face's LlamaForCausalLM in the same run.

Achieved FLOP/s = tokens/s x (6 x parameters + 12 x layers x hidden x seq_len): the
standard estimate of a forward + backward pass (Kaplan et al. 2020; PaLM appendix B).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn

from minimind_notes.device import autocast, autocast_dtype, precision_name, synchronize
from minimind_notes.model import MiniMindConfig, MiniMindForCausalLM, SamplingConfig, generate, preset
from minimind_notes.train.optim import build_adamw


def timed(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int = 1) -> float:
    """Median seconds of one call of fn, after warm-up calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def matmul_peak(device: torch.device, dtype: torch.dtype, sizes: tuple[int, ...] | None = None) -> float:
    """Best GFLOP/s of square matmuls of `dtype` over a few sizes: this machine's ceiling (a GPU needs
    bigger ones than a CPU to reach it)."""
    best = 0.0
    for n in sizes or ((2048, 4096, 8192) if device.type == "cuda" else (512, 1024, 2048)):
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        seconds = timed(lambda a=a, b=b: a @ b, device, repeats=5)
        best = max(best, 2 * n**3 / seconds / 1e9)
    return best


def train_flops_per_token(config: MiniMindConfig, n_params: int, seq_len: int) -> float:
    return 6 * n_params + 12 * config.num_hidden_layers * config.hidden_size * seq_len


def train_step_seconds(
    model: nn.Module, device: torch.device, amp: torch.dtype | None, batch: int, seq_len: int,
    steps: int, fused_loss: bool = True,
) -> float:
    """Median seconds of forward + backward + AdamW step on random tokens.

    fused_loss: the trainer's step, the lm_head and cross-entropy fused (model/loss.py; MiniMind
    models only); False: full logits and F.cross_entropy in float32, as transformers' Llama computes
    its loss."""
    model.train()
    opt, _ = build_adamw(model.parameters(), 1e-4, device)
    ids = torch.randint(0, model.config.vocab_size, (batch, seq_len), device=device)

    def step() -> None:
        with autocast(device, amp):
            if fused_loss:
                loss = model(ids, labels=ids, fused_loss=True).loss
            else:
                logits = model(ids).logits
        if not fused_loss:
            loss = nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1).float(), ids[:, 1:].flatten())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return timed(step, device, repeats=steps, warmup=2)


CHAT_PROMPT_TOKENS = 42  # a one-line question in the ChatML template, default system prompt included


def generation_tokens_per_s(
    model: nn.Module, device: torch.device, new_tokens: int, use_cache: bool, prompt_tokens: int = 4
) -> float:
    """Greedy decoding speed from a prompt of `prompt_tokens` ids (bos + seeded random ids)."""
    model.eval()
    prompt = chat_like_prompt(model.config.vocab_size, prompt_tokens, device)
    cfg = SamplingConfig(max_new_tokens=new_tokens, temperature=0, eos_token_id=None)
    seconds = timed(lambda: generate(model, prompt, cfg=cfg, use_cache=use_cache), device, 1, 0)
    return new_tokens / seconds


def chat_like_prompt(vocab_size: int, prompt_tokens: int, device: torch.device) -> torch.Tensor:
    """(1, prompt_tokens): bos, then seeded random ids (the same prompt in every run)."""
    ids = torch.randint(3, vocab_size, (1, prompt_tokens), generator=torch.Generator().manual_seed(0))
    return torch.cat([torch.ones(1, 1, dtype=torch.long), ids[:, 1:]], dim=1).to(device)


@torch.no_grad()
def greedy_concatenated_cache(model: nn.Module, prompt: torch.Tensor, new_tokens: int) -> torch.Tensor:
    """The lesson's decode loop: the tuple cache grown by torch.cat every step (what KVBuffer replaces)."""
    ids, past = prompt, None
    for _ in range(new_tokens):
        out = model(ids if past is None else ids[:, -1:], past_key_values=past, use_cache=True, logits_to_keep=1)
        past = out.past_key_values
        ids = torch.cat([ids, out.logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return ids


@dataclass
class DecodeBenchResult:
    preset: str
    device: str
    precision: str
    threads: int
    prompt_tokens: int
    new_tokens: int
    tokens_per_s: float  # generate(): preallocated KV buffers
    concatenated_cache_tokens_per_s: float  # the torch.cat cache
    hf_tokens_per_s: float | None  # transformers' generate on the same weights
    same_tokens_as_hf: bool | None
    vs_hf: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def bench_decode(
    name: str, device: torch.device, new_tokens: int = 256, prompt_tokens: int = CHAT_PROMPT_TOKENS,
    repeats: int = 3, compare_hf: bool = True,
) -> DecodeBenchResult:
    """Greedy decoding tokens/s, fp32 weights: ours with preallocated KV buffers, ours with the
    concatenated cache, and transformers' `generate` (its default dynamic cache) on the same weights,
    interleaved `repeats` times (median)."""
    torch.manual_seed(0)
    model = MiniMindForCausalLM(preset(name)).to(device).eval()
    prompt = chat_like_prompt(model.config.vocab_size, prompt_tokens, device)
    cfg = SamplingConfig(max_new_tokens=new_tokens, temperature=0, eos_token_id=None)
    runs: dict[str, Callable[[], torch.Tensor]] = {
        "buffer": lambda: generate(model, prompt, cfg=cfg),
        "concat": lambda: greedy_concatenated_cache(model, prompt, new_tokens),
    }
    twin = hf_llama_twin(model) if compare_hf else None
    if twin is not None:
        twin.to(device).eval()
        runs["hf"] = lambda: twin.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                                           max_new_tokens=new_tokens, min_new_tokens=new_tokens, num_beams=1,
                                           pad_token_id=0, eos_token_id=None)
    outputs = {key: fn() for key, fn in runs.items()}  # warm-up, and the tokens to compare
    seconds: dict[str, list[float]] = {key: [] for key in runs}
    for _ in range(repeats):  # interleaved: a slower moment of a shared machine hits every contender
        for key, fn in runs.items():
            seconds[key].append(timed(fn, device, repeats=1, warmup=0))
    speed = {key: new_tokens / sorted(s)[len(s) // 2] for key, s in seconds.items()}
    hf = speed.get("hf")
    return DecodeBenchResult(
        preset=name, device=str(device), precision="fp32", threads=torch.get_num_threads(),
        prompt_tokens=prompt_tokens, new_tokens=new_tokens, tokens_per_s=speed["buffer"],
        concatenated_cache_tokens_per_s=speed["concat"], hf_tokens_per_s=hf,
        same_tokens_as_hf=bool(torch.equal(outputs["hf"], outputs["buffer"])) if hf else None,
        vs_hf=speed["buffer"] / hf if hf else None,
    )


def hf_llama_twin(model: MiniMindForCausalLM) -> nn.Module | None:
    """The same network as transformers' LlamaForCausalLM with the same weights, if installed."""
    try:
        from transformers import LlamaConfig, LlamaForCausalLM
    except ImportError:
        return None
    from minimind_notes.model.hf_format import hf_config

    cfg = LlamaConfig(**{k: v for k, v in hf_config(model.config).items()
                         if k not in ("architectures", "model_type", "torch_dtype")})
    cfg._attn_implementation = "sdpa"
    twin = LlamaForCausalLM(cfg)
    twin.load_state_dict(model.state_dict(), strict=False)
    twin.config = cfg
    return twin


@dataclass
class ModelBenchResult:
    preset: str
    params: int
    device: str
    precision: str
    optimizer: str
    batch: int
    seq_len: int
    train_tokens_per_s: float  # the trainer's step: the fused lm_head + loss of model/loss.py
    achieved_gflops: float
    matmul_peak_gflops: float
    peak_fraction: float
    prompt_tokens: int
    gen_tokens_per_s_cache: float
    gen_tokens_per_s_no_cache: float
    cache_speedup: float
    cache_speedup_short_prompt: float  # the same from a 4-token prompt: the least the cache can save
    threads: int = 1
    hf_train_tokens_per_s: float | None = None  # transformers' step: full logits, float32 cross-entropy
    vs_hf: float | None = None  # the trainer's step over transformers'
    plain_loss_tokens_per_s: float | None = None  # our step with transformers' loss: full logits, F.cross_entropy
    plain_loss_vs_hf: float | None = None  # the like-for-like ratio: the same loss computation on both sides
    # Where the precision is bf16 autocast: the same two steps in fp32, beside (transformers' slow
    # paths differ between precisions, e.g. for a head size of 24).
    train_tokens_per_s_fp32: float | None = None
    hf_train_tokens_per_s_fp32: float | None = None
    vs_hf_fp32: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def bench_model(
    name: str, device: torch.device, batch: int = 4, seq_len: int = 256, steps: int = 5,
    new_tokens: int = 256, compare_hf: bool = True, peak: float | None = None,
    prompt_tokens: int = CHAT_PROMPT_TOKENS,
) -> ModelBenchResult:
    torch.manual_seed(0)
    amp = autocast_dtype(device)
    model = MiniMindForCausalLM(preset(name)).to(device)
    n = model.num_parameters()
    step_s = train_step_seconds(model, device, amp, batch, seq_len, steps)
    tokens_per_s = batch * seq_len / step_s
    achieved = tokens_per_s * train_flops_per_token(model.config, n, seq_len) / 1e9
    peak = peak or matmul_peak(device, amp or torch.float32)
    tokens = batch * seq_len
    plain_tps = tokens / train_step_seconds(model, device, amp, batch, seq_len, steps, fused_loss=False)
    ours_fp32 = tokens / train_step_seconds(model, device, None, batch, seq_len, steps) if amp else None
    hf_tps = hf_fp32 = None
    twin = hf_llama_twin(model) if compare_hf else None
    if twin is not None:  # the same weights, precision, SDPA kernel and batch; its loss is plain_tps's
        twin.to(device)
        hf_tps = tokens / train_step_seconds(twin, device, amp, batch, seq_len, steps, fused_loss=False)
        if amp:
            hf_fp32 = tokens / train_step_seconds(twin, device, None, batch, seq_len, steps, fused_loss=False)
        del twin
    cached, uncached = (generation_tokens_per_s(model, device, new_tokens, c, prompt_tokens) for c in (True, False))
    short = [generation_tokens_per_s(model, device, new_tokens, c, 4) for c in (True, False)]
    return ModelBenchResult(
        preset=name, params=n, device=str(device), precision=precision_name(amp),
        optimizer=build_adamw(model.parameters(), 1e-4, device)[1], batch=batch, seq_len=seq_len,
        train_tokens_per_s=tokens_per_s, achieved_gflops=achieved, matmul_peak_gflops=peak,
        peak_fraction=achieved / peak, prompt_tokens=prompt_tokens, gen_tokens_per_s_cache=cached,
        gen_tokens_per_s_no_cache=uncached, cache_speedup=cached / uncached,
        cache_speedup_short_prompt=short[0] / short[1],
        threads=torch.get_num_threads(), hf_train_tokens_per_s=hf_tps, vs_hf=tokens_per_s / hf_tps if hf_tps else None,
        plain_loss_tokens_per_s=plain_tps, plain_loss_vs_hf=plain_tps / hf_tps if hf_tps else None,
        train_tokens_per_s_fp32=ours_fp32, hf_train_tokens_per_s_fp32=hf_fp32,
        vs_hf_fp32=ours_fp32 / hf_fp32 if ours_fp32 and hf_fp32 else None,
    )
