"""`minimind chat`: talk to a trained model, streamed token by token."""

from __future__ import annotations

import typer

from minimind_notes.cli.console import console, err_console, note
from minimind_notes.cli.shared import seed_option


def chat(
    weights: str = typer.Option("full_sft", "--weights", help="A stage name (pretrain, full_sft, dpo, ...) "
                                "or a .safetensors/.pth path (official MiniMind2 and minimind-3 weights load too)."),
    tokenizer: str | None = typer.Option(None, "--tokenizer", help="Tokenizer folder (default: shipped; official "
                                         ".pth weights: the one beside them; a transformers folder: its own)."),
    lora: str | None = typer.Option(None, "--lora", help="LoRA adapters to apply (stage name or path)."),
    prompt: str | None = typer.Option(None, "--prompt", help="Answer one prompt and exit."),
    history: int = typer.Option(4, "--history", min=0, help="Earlier exchanges kept in the context."),
    think: bool = typer.Option(False, "--think/--no-think", help="minimind-3: reason in a <think> block first "
                               "(shown dim, apart from the answer)."),
    tools_file: str | None = typer.Option(None, "--tools", help="minimind-3: a JSON file of OpenAI function "
                                          "schemas the model may call; 'demo': a calculator and the date/time. "
                                          "Calls of these two are run and their results fed back."),
    tool_rounds: int = typer.Option(3, "--tool-rounds", min=0, help="Tool results fed back per message, at most."),
    as_json: bool = typer.Option(False, "--json", help="With --prompt: print the reply as JSON (reasoning_content, "
                                 "content, tool calls and results apart)."),
    temperature: float | None = typer.Option(None, "--temperature", help="0: greedy. Default: by the model's size "
                                             "(SamplingConfig's for 10M parameters and more, lower for tinier ones)."),
    top_p: float | None = typer.Option(None, "--top-p", help="1: off. Default: by the model's size, as --temperature."),
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
    import json
    import math
    import sys

    import torch
    from rich.markup import escape  # a tool call's arguments may hold "[...]": printed, never parsed

    from minimind_notes.chat import fit_chat, fit_text, is_chat_model, load_for_inference, prompt_budget, stream_reply
    from minimind_notes.data.jsonl import check_text
    from minimind_notes.data.tool_calls import load_tools, parse_reply, tool_names
    from minimind_notes.device import pick_device
    from minimind_notes.errors import MiniMindError, UsageError
    from minimind_notes.model import SamplingConfig
    from minimind_notes.model.generation import default_sampling

    for name, value, fits, allowed in (
            ("--temperature", temperature, temperature is None or temperature >= 0, "0 (greedy) or more"),
            ("--top-p", top_p, top_p is None or 0 < top_p <= 1, "above 0, at most 1 (1: off)"),
            ("--repetition-penalty", repetition_penalty, repetition_penalty > 0, "above 0 (1: off)")):
        if value is not None and not (fits and math.isfinite(value)):  # NaN fails `fits` too: no comparison accepts it
            raise UsageError(f"{name} {value} is out of range", hint=f"use a finite number, {allowed}")
    if as_json and prompt is None:
        raise UsageError("--json needs --prompt (it prints one reply)", hint="add --prompt TEXT, or leave out --json")
    tools = load_tools(tools_file) if tools_file else None  # a bad file fails before the model loads
    if prompt is not None:
        check_text(prompt, "--prompt")
    elif hasattr(sys.stdin, "reconfigure"):
        # Bytes that are not UTF-8 arrive as lone surrogates that check_text names with their line;
        # strict decoding would fail on a whole buffered chunk, at the wrong line.
        sys.stdin.reconfigure(errors="surrogateescape")
    model, tok, path = load_for_inference(weights, tokenizer, lora, pick_device(device), save_dir,
                                          say=note)
    templated = is_chat_model(path) and not raw
    asked = " and ".join(flag for flag, on in (("--think", think), ("--tools", tools)) if on)
    if asked and tok.generation != "minimind-3":
        raise MiniMindError(f"{asked}: {path} speaks MiniMind2's chat template (tokenizer {tok.describe()}), "
                            "which has no thinking or tool calls",
                            hint="chat with minimind-3 weights and tokenizer, or leave out " + asked)
    if asked and not templated:
        raise UsageError(f"{asked} need the chat template, and {path} "
                         f"{'is pretrained: it continues text' if not raw else 'is run with --raw'}",
                         hint="chat with SFT weights (full_sft, ...) without --raw")
    minimind3 = templated and tok.generation == "minimind-3"
    variables = {"open_thinking": True} if think else {}
    declared = tool_names(tools or [])
    window = model.config.max_position_embeddings
    budget = prompt_budget(window, max_new_tokens)
    by_size = default_sampling(sum(p.numel() for p in model.parameters()))
    cfg = SamplingConfig(max_new_tokens=max_new_tokens, top_k=top_k, repetition_penalty=repetition_penalty,
                         temperature=by_size.temperature if temperature is None else temperature,
                         top_p=by_size.top_p if top_p is None else top_p, eos_token_id=tok.eos_token_id)
    generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    info = err_console if as_json else console  # --json: stdout holds the JSON only
    info.print(f"[dim]{path} ({sum(p.numel() for p in model.parameters()):,} parameters, "
               f"{'chat' if templated else 'text continuation'}, a window of {window} tokens"
               f"{', thinking' if think else ''}{', tools: ' + ', '.join(declared) if tools else ''}, "
               f"{'greedy' if cfg.temperature <= 0 else f'temperature {cfg.temperature:g}, top-p {cfg.top_p:g}'})[/]")
    exchanges: list[list[dict]] = []  # each: a user's message, then the assistant's (and tool results)
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
                exchanges.clear()
                console.print("[dim](history cleared)[/]")
                continue
        exchange = [{"role": "user", "content": text}]
        exchanges.append(exchange)
        rounds_left = tool_rounds
        while True:  # one reply, then one more after each round of tool results
            if templated:
                context = [m for earlier in exchanges[-(history + 1):] for m in earlier]
                fitted = fit_chat(tok, context, budget, tools=tools, **variables)
            else:
                fitted = fit_text(tok, text, budget)
            if fitted.note:
                info.print(f"[dim]({fitted.note})[/]")
            if not templated:
                console.print(tok.decode(fitted.ids[1:]), end="", markup=False)
            if prompt is None:
                console.print("[bold green]minimind>[/] ", end="")
            room = window - len(fitted.ids)
            view = ReplyView(thinking=think, quiet=as_json)
            reply = stream_reply(model, tok, fitted.ids,
                                 dataclasses.replace(cfg, max_new_tokens=min(max_new_tokens, room)), view.show,
                                 generator)
            if not as_json:
                console.print()
            if room < max_new_tokens and reply.tokens >= room:
                info.print(f"[dim](the reply stopped at the end of the model's window of {window} tokens)[/]")
            total_tokens += reply.tokens
            total_seconds += reply.seconds
            reasoning, content, calls = parse_reply(reply.text, think) if minimind3 else ("", reply.text, [])
            exchange.append({"role": "assistant", "content": content,
                             **({"reasoning_content": reasoning} if reasoning else {}),
                             **({"tool_calls": calls} if calls else {})})
            runnable = [call for call in calls if is_runnable(call, declared)]
            for call in calls:
                if call not in runnable or not rounds_left:
                    info.print(f"[yellow]tool call (not run: {escape(why_not_run(call, declared, rounds_left))}):[/] "
                               f"{escape(call_text(call))}")
            if not calls or len(runnable) < len(calls) or not rounds_left:
                break
            rounds_left -= 1
            for call in calls:
                result = run_call(call)
                exchange.append({"role": "tool", "content": result})
                info.print(f"[magenta]tool[/] {escape(call_text(call))} -> {escape(result)}")
        if as_json:
            answer = exchange[-1]
            console.print_json(json.dumps({
                "reasoning_content": answer.get("reasoning_content", ""), "content": answer["content"],
                "tool_calls": answer.get("tool_calls", []), "messages": exchange[1:], "tokens": total_tokens,
                "tokens_per_s": round(total_tokens / max(total_seconds, 1e-9), 1)}, ensure_ascii=False))
        if not templated:
            exchanges.clear()  # text continuation keeps no history
        if prompt is not None:
            break
    if total_tokens and not as_json:
        console.print(f"[dim]{total_tokens} tokens at {total_tokens / max(total_seconds, 1e-9):.1f} tokens/s[/]")


class ReplyView:
    """Prints a streamed reply: minimind-3's reasoning dim and apart from the answer, the answer as is."""

    def __init__(self, thinking: bool, quiet: bool = False) -> None:
        self.thinking = thinking  # the prompt opened a <think> block: the reply starts with its reasoning
        self.quiet = quiet
        self.started = False

    def show(self, piece: str) -> None:
        if self.quiet:
            return
        if self.thinking:
            if not self.started:
                console.print("[dim italic](thinking) [/]", end="")
                self.started = True
            reasoning, closed, piece = piece.partition("</think>")
            console.print(reasoning, end="", style="dim italic", markup=False)
            if not closed:
                return
            self.thinking = False
            console.print()
            piece = piece.lstrip("\n")
        console.print(piece, end="", markup=False)


def is_runnable(call: dict, declared: list[str]) -> bool:
    from minimind_notes.data.tool_calls import is_demo_tool

    name = call["function"]["name"]
    return name in declared and is_demo_tool(name)


def why_not_run(call: dict, declared: list[str], rounds_left: int) -> str:
    name = call["function"]["name"]
    if name not in declared:
        return f"{name} is not among the tools given with --tools"
    if not is_runnable(call, declared):
        return f"{name} is not a demo tool, so chat cannot run it"
    return "--tool-rounds reached"


def call_text(call: dict) -> str:
    return f"{call['function']['name']}({call['function']['arguments']})"


def run_call(call: dict) -> str:
    from minimind_notes.data.tool_calls import run_demo_tool

    return run_demo_tool(call["function"]["name"], call["function"]["arguments"])
