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


def matmul_peak(
    device: torch.device, dtype: torch.dtype, sizes: tuple[int, ...] = (512, 1024, 2048)
) -> float:
    """Best GFLOP/s of square matmuls of `dtype` over a few sizes: this machine's ceiling."""
    best = 0.0
    for n in sizes:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        seconds = timed(lambda a=a, b=b: a @ b, device, repeats=5)
        best = max(best, 2 * n**3 / seconds / 1e9)
    return best


def train_flops_per_token(config: MiniMindConfig, n_params: int, seq_len: int) -> float:
    return 6 * n_params + 12 * config.num_hidden_layers * config.hidden_size * seq_len


def train_step_seconds(
    model: nn.Module, device: torch.device, amp: torch.dtype | None, batch: int, seq_len: int,
    steps: int,
) -> float:
    """Median seconds of forward + backward + AdamW step on random tokens."""
    model.train()
    opt, _ = build_adamw(model.parameters(), 1e-4, device)
    ids = torch.randint(0, model.config.vocab_size, (batch, seq_len), device=device)

    def step() -> None:
        with autocast(device, amp):
            logits = model(ids).logits
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
    ids = torch.randint(3, model.config.vocab_size, (1, prompt_tokens), generator=torch.Generator().manual_seed(0))
    prompt = torch.cat([torch.ones(1, 1, dtype=torch.long), ids[:, 1:]], dim=1).to(device)
    cfg = SamplingConfig(max_new_tokens=new_tokens, temperature=0, eos_token_id=None)
    seconds = timed(lambda: generate(model, prompt, cfg=cfg, use_cache=use_cache), device, 1, 0)
    return new_tokens / seconds


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
    train_tokens_per_s: float
    achieved_gflops: float
    matmul_peak_gflops: float
    peak_fraction: float
    prompt_tokens: int
    gen_tokens_per_s_cache: float
    gen_tokens_per_s_no_cache: float
    cache_speedup: float
    cache_speedup_short_prompt: float  # the same from a 4-token prompt: the least the cache can save
    hf_train_tokens_per_s: float | None = None
    vs_hf: float | None = None

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
    hf_tps = None
    twin = hf_llama_twin(model) if compare_hf else None
    if twin is not None:
        twin.to(device)
        hf_tps = batch * seq_len / train_step_seconds(twin, device, amp, batch, seq_len, steps)
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
        hf_train_tokens_per_s=hf_tps, vs_hf=tokens_per_s / hf_tps if hf_tps else None,
    )
