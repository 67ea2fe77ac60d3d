"""`minimind serve`: the model behind an OpenAI-compatible API, with a chat page at /."""

from __future__ import annotations

import typer

from minimind_notes.cli.console import console, err_console, note

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(
    weights: str = typer.Option("full_sft", "--weights", help="A stage name (full_sft, dpo, ...) or a "
                                ".safetensors/.pth path (official MiniMind2 and minimind-3 weights load too)."),
    tokenizer: str | None = typer.Option(None, "--tokenizer", help="Tokenizer folder (default: the weights' own)."),
    lora: str | None = typer.Option(None, "--lora", help="LoRA adapters to apply (stage name or path)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; anything but localhost lets "
                             "other machines in: then set --api-key."),
    port: int = typer.Option(8998, "--port", min=1, max=65535),
    api_key: str | None = typer.Option(None, "--api-key", envvar="MINIMIND_API_KEY",
                                       help="Requests must send `Authorization: Bearer KEY`."),
    max_tokens: int = typer.Option(512, "--max-tokens", min=1, help="A reply's length when a request does not "
                                   "set max_tokens."),
    save_dir: str = typer.Option("out", "--save-dir"),
    device: str = typer.Option("auto", "--device"),
) -> None:
    """Serve a model with OpenAI's API (/v1/chat/completions, /v1/models) and a chat page at /."""
    import socket

    from minimind_notes.errors import MiniMindError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:  # a taken port: one line now, not uvicorn's log after the model loaded
        try:
            probe.bind((host, port))
        except OSError as e:
            raise MiniMindError(f"cannot listen on {host}:{port}: {e.strerror}",
                                hint="pick another --port, or stop what uses it") from e
    try:
        import uvicorn

        from minimind_notes.serve.app import create_app
        from minimind_notes.serve.engine import Engine
    except ImportError as e:
        raise MiniMindError(f"`minimind serve` needs {e.name}, which is not installed",
                            hint="pip install 'minimind-notes[serve]'") from e
    from pathlib import Path

    from minimind_notes.chat import is_chat_model, load_for_inference
    from minimind_notes.device import pick_device

    model, tok, path = load_for_inference(weights, tokenizer, lora, pick_device(device), save_dir, say=note)
    if not is_chat_model(path):
        note(f"{path.name} holds pretrained weights, which continue text: they never learned the chat template "
             "every request is put in (serve full_sft or a later stage)")
    model_id = path.stem if lora is None else f"{path.stem}+{Path(lora).stem}"
    app = create_app(Engine(model, tok, path), model_id, api_key, max_tokens)
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    console.print(f"[bold]{model_id}[/] ({path}, {sum(p.numel() for p in model.parameters()):,} parameters, "
                  f"{tok.generation}) at {url}\n  chat page: {url}/\n  OpenAI base URL: {url}/v1, "
                  f"model {model_id!r}, key: {'the --api-key' if api_key else 'any'}\n  Ctrl+C stops it.")
    if host not in LOOPBACK and not api_key:
        err_console.print(f"[bold yellow]Warning:[/] listening on {host} without --api-key: anyone who can reach "
                          "this machine can use the model", soft_wrap=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
