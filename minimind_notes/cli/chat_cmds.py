"""`minimind chat`: talk to a trained model, streamed token by token."""

from __future__ import annotations

import typer

from minimind_notes.cli.console import console, note
from minimind_notes.cli.shared import seed_option


def chat(
    weights: str = typer.Option("full_sft", "--weights", help="A stage name (pretrain, full_sft, dpo, ...) "
                                "or a .safetensors/.pth path (official MiniMind2 weights load too)."),
    tokenizer: str | None = typer.Option(None, "--tokenizer", help="Tokenizer folder (default: shipped)."),
    lora: str | None = typer.Option(None, "--lora", help="LoRA adapters to apply (stage name or path)."),
    prompt: str | None = typer.Option(None, "--prompt", help="Answer one prompt and exit."),
    history: int = typer.Option(4, "--history", min=0, help="Earlier turns kept in the context."),
    temperature: float = typer.Option(0.85, "--temperature"),
    top_p: float = typer.Option(0.85, "--top-p"),
    top_k: int = typer.Option(0, "--top-k", min=0, help="0: off."),
    repetition_penalty: float = typer.Option(1.0, "--repetition-penalty"),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", min=1),
    raw: bool = typer.Option(False, "--raw", help="No chat template: continue the text (default for pretrain)."),
    save_dir: str = typer.Option("out", "--save-dir"),
    device: str = typer.Option("auto", "--device"),
    seed: int = seed_option(0),
) -> None:
    """Chat with a model (/reset clears the history, /exit quits), or answer one --prompt."""
    import dataclasses
    import math
    import sys

    import torch

    from minimind_notes.chat import fit_chat, fit_text, is_chat_model, load_for_inference, prompt_budget, stream_reply
    from minimind_notes.data.jsonl import check_text
    from minimind_notes.device import pick_device
    from minimind_notes.errors import UsageError
    from minimind_notes.model import SamplingConfig

    for name, value, fits, allowed in (("--temperature", temperature, temperature >= 0, "0 (greedy) or more"),
                                       ("--top-p", top_p, 0 < top_p <= 1, "above 0, at most 1 (1: off)"),
                                       ("--repetition-penalty", repetition_penalty, repetition_penalty > 0,
                                        "above 0 (1: off)")):
        if not (fits and math.isfinite(value)):  # NaN fails `fits` too: no comparison accepts it
            raise UsageError(f"{name} {value} is out of range", hint=f"use a finite number, {allowed}")
    if prompt is not None:
        check_text(prompt, "--prompt")
    elif hasattr(sys.stdin, "reconfigure"):
        # Bytes that are not UTF-8 arrive as lone surrogates that check_text names with their line;
        # strict decoding would fail on a whole buffered chunk, at the wrong line.
        sys.stdin.reconfigure(errors="surrogateescape")
    model, tok, path = load_for_inference(weights, tokenizer, lora, pick_device(device), save_dir,
                                          say=note)
    templated = is_chat_model(path) and not raw
    window = model.config.max_position_embeddings
    budget = prompt_budget(window, max_new_tokens)
    cfg = SamplingConfig(max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                         repetition_penalty=repetition_penalty, eos_token_id=tok.eos_token_id)
    generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    console.print(f"[dim]{path} ({sum(p.numel() for p in model.parameters()):,} parameters, "
                  f"{'chat' if templated else 'text continuation'}, a window of {window} tokens)[/]")
    turns: list[dict[str, str]] = []
    total_tokens, total_seconds, lines_read = 0, 0.0, 0
    while True:
        if prompt is not None:
            text = prompt
        else:
            try:
                text = console.input("[bold cyan]you>[/] ")
            except (EOFError, KeyboardInterrupt):
                break
            lines_read += 1
            check_text(text, f"input line {lines_read}")
            if text.strip() in ("/exit", "/quit"):
                break
            if text.strip() == "/reset":
                turns.clear()
                console.print("[dim](history cleared)[/]")
                continue
        if templated:
            turns.append({"role": "user", "content": text})
            fitted = fit_chat(tok, turns[-(2 * history + 1):], budget)
        else:
            fitted = fit_text(tok, text, budget)
        if fitted.note:
            console.print(f"[dim]({fitted.note})[/]", highlight=False)
        if not templated:
            console.print(tok.decode(fitted.ids[1:]), end="", markup=False)
        if prompt is None:
            console.print("[bold green]minimind>[/] ", end="")
        room = window - len(fitted.ids)
        reply = stream_reply(model, tok, fitted.ids, dataclasses.replace(cfg, max_new_tokens=min(max_new_tokens, room)),
                             lambda s: console.print(s, end="", markup=False), generator)
        console.print()
        if room < max_new_tokens and reply.tokens >= room:
            console.print(f"[dim](the reply stopped at the end of the model's window of {window} tokens)[/]")
        total_tokens += reply.tokens
        total_seconds += reply.seconds
        if templated:
            turns.append({"role": "assistant", "content": reply.text})
        if prompt is not None:
            break
    if total_tokens:
        console.print(f"[dim]{total_tokens} tokens at {total_tokens / max(total_seconds, 1e-9):.1f} tokens/s[/]")
