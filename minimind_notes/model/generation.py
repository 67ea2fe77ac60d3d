"""Autoregressive generation with a KV cache: greedy, temperature, top-k, top-p,
repetition penalty, eos stop, streaming, and batches of left-padded prompts.

With the cache, each step feeds one new token per row and attends to the stored keys and
values of all earlier positions, so a step costs O(T) instead of re-running O(T^2).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from minimind_notes.model.attention import KVBuffer


@dataclass
class SamplingConfig:
    max_new_tokens: int = 256
    temperature: float = 0.85  # 0 -> greedy
    top_k: int = 0  # 0 -> off
    top_p: float = 0.85  # 1.0 -> off
    repetition_penalty: float = 1.0  # 1.0 -> off; >1 discourages tokens already present
    eos_token_id: int | None = 2
    pad_token_id: int = 0


TINY_MODEL_PARAMS = 10_000_000  # below: this project's `tiny` preset (2M) and lab models; MiniMind's start at 26M


def default_sampling(params: int) -> SamplingConfig:
    """The sampling `minimind chat`, `minimind serve` and exported folders use unless told otherwise, for a model of
    `params` parameters. SamplingConfig's own (temperature 0.85, top-p 0.85) are MiniMind's, for 26M parameters and
    more. A tiny model spreads its probability thinly over many tokens, and at 0.85 / 0.85 it samples byte fragments
    and the other language: on a 1.2M-parameter pretrain -> SFT -> LoRA chain, `python -m tools.demo_rates` found
    38% of the demonstrations' replies acceptable at 0.85 / 0.85, 90% at 0.3 / 0.3, 98% at 0.2 / 0.3, all greedy
    (5 seeds x 8 prompts); on the `tiny` chain (defaults, a busy CPU) the pretrain and SFT demonstrations went from
    19 of 25 at 0.85 / 0.85 to 25 of 25 at 0.2 / 0.3, as greedy."""
    if params < TINY_MODEL_PARAMS:
        return SamplingConfig(temperature=0.2, top_p=0.3)
    return SamplingConfig()


def apply_repetition_penalty(logits: torch.Tensor, ids: torch.Tensor, penalty: float) -> torch.Tensor:
    """Make every token already in `ids` less likely: positive logits / p, negative ones * p."""
    if penalty == 1.0:
        return logits
    seen = torch.gather(logits, 1, ids)
    seen = torch.where(seen > 0, seen / penalty, seen * penalty)
    return logits.scatter(1, ids, seen)


def filter_top_k_top_p(logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Set to -inf every logit outside the top k, and outside the smallest set whose
    probability reaches top_p (the most likely token always stays)."""
    if top_k > 0:
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[..., -1, None]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        drop = cum - sorted_logits.softmax(dim=-1) >= top_p  # mass before this token already >= p
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def next_token(
    logits: torch.Tensor, ids: torch.Tensor, cfg: SamplingConfig,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Pick the next token for each row: logits (B, V), ids so far (B, T) -> (B,)."""
    logits = apply_repetition_penalty(logits.float(), ids, cfg.repetition_penalty)
    if cfg.temperature <= 0:
        return logits.argmax(dim=-1)
    logits = filter_top_k_top_p(logits / cfg.temperature, cfg.top_k, cfg.top_p)
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator).squeeze(-1)


@torch.no_grad()
def stream_generate(
    model: nn.Module,
    input_ids: torch.Tensor,  # (B, T) prompts, left-padded when their lengths differ
    attention_mask: torch.Tensor | None = None,  # (B, T), 0 on the padding
    cfg: SamplingConfig | None = None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
) -> Iterator[torch.Tensor]:
    """Yield the next token of every row, (B,), step by step until all rows hit eos."""
    cfg = cfg or SamplingConfig()
    ids = step_ids = input_ids
    finished = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
    # One preallocated buffer per layer, long enough for the prompt and every new token.
    max_len = ids.shape[1] + cfg.max_new_tokens
    layers = getattr(model, "module", model).config.num_hidden_layers  # DDP keeps the model in .module
    past = [KVBuffer(max_len) for _ in range(layers)] if use_cache else None
    for _ in range(cfg.max_new_tokens):
        out = model(step_ids, attention_mask=attention_mask, past_key_values=past,
                    use_cache=use_cache, logits_to_keep=1)
        token = next_token(out.logits[:, -1], ids, cfg, generator)
        token = token.masked_fill(finished, cfg.pad_token_id)  # finished rows only pad
        yield token
        ids = torch.cat([ids, token[:, None]], dim=1)
        step_ids = token[:, None] if use_cache else ids  # the prefill fed the prompt; then one token a step
        if attention_mask is not None:
            attention_mask = torch.cat([attention_mask, (~finished)[:, None].to(attention_mask)], 1)
        if cfg.eos_token_id is not None:
            finished |= token == cfg.eos_token_id
            if bool(finished.all()):
                return


def left_pad(rows: list[list[int]], pad_token_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Token lists of different lengths as one batch for `generate`: ids (B, T) padded on the left,
    so every row's last prompt token sits in the last column, and the attention mask (B, T)."""
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row):] = torch.tensor(row, dtype=torch.long)
        mask[i, width - len(row):] = 1
    return ids, mask


def generate(
    model: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    cfg: SamplingConfig | None = None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The prompts followed by their generated tokens, (B, T + new)."""
    tokens = list(stream_generate(model, input_ids, attention_mask, cfg, use_cache, generator))
    return torch.cat([input_ids, torch.stack(tokens, dim=1)], dim=1) if tokens else input_ids
