"""`minimind demo`, `minimind export`, `minimind doctor`: the model and the machine."""

from __future__ import annotations

from pathlib import Path

import typer

from minimind_notes.cli.console import console
from minimind_notes.cli.shared import seed_option


def demo(
    preset_name: str = typer.Option("tiny", "--preset", help="Model size preset."),
    new_tokens: int = typer.Option(24, min=1, help="Tokens to generate."),
    seed: int = seed_option(0),
) -> None:
    """Build a MiniMind model, show its parts and parameters, run it, generate with a KV cache."""
    import math
    import time

    import torch
    from rich.table import Table

    from minimind_notes.errors import UsageError
    from minimind_notes.model import MiniMindForCausalLM, SamplingConfig, generate, preset

    torch.manual_seed(seed)
    config = preset(preset_name)
    window = config.max_position_embeddings
    if 4 + new_tokens > window:  # 4: the prompt below
        raise UsageError(f"--new-tokens {new_tokens} does not fit the {preset_name!r} model's window of {window}",
                         hint=f"at most {window - 4}")
    model = MiniMindForCausalLM(config).eval()
    table = Table(title=f"MiniMind '{preset_name}': {model.num_parameters():,} parameters")
    table.add_column("part")
    table.add_column("parameters", justify="right")
    table.add_column("shape")
    layer = model.model.layers[0]
    parts = [
        ("embed_tokens (tied to lm_head)", model.model.embed_tokens.weight),
        ("layer.self_attn.q_proj", layer.self_attn.q_proj.weight),
        ("layer.self_attn.k_proj (GQA: fewer heads)", layer.self_attn.k_proj.weight),
        ("layer.self_attn.v_proj", layer.self_attn.v_proj.weight),
        ("layer.self_attn.o_proj", layer.self_attn.o_proj.weight),
        ("layer.input_layernorm (RMSNorm)", layer.input_layernorm.weight),
        ("layer.post_attention_layernorm", layer.post_attention_layernorm.weight),
    ]
    if not config.use_moe:
        parts += [(f"layer.mlp.{n} (SwiGLU)", getattr(layer.mlp, n).weight)
                  for n in ("gate_proj", "up_proj", "down_proj")]
    for name, w in parts:
        table.add_row(name, f"{w.numel():,}", " x ".join(map(str, w.shape)))
    per_layer = sum(p.numel() for p in layer.parameters())
    table.add_row(f"one block x {config.num_hidden_layers}", f"{per_layer:,}", "")
    console.print(table)

    ids = torch.randint(0, config.vocab_size, (1, 32))
    with torch.no_grad():
        loss = float(model(ids, labels=ids).loss)
    console.print(f"Loss of the untrained model on random tokens: [bold]{loss:.3f}[/] "
                  f"(uniform guessing over {config.vocab_size} tokens gives ln {config.vocab_size}"
                  f" = {math.log(config.vocab_size):.3f})")
    prompt = torch.tensor([[config.bos_token_id, 10, 20, 30]])
    cfg = SamplingConfig(max_new_tokens=new_tokens, temperature=0, eos_token_id=None)
    results = {}
    for use_cache in (True, False):
        start = time.perf_counter()
        results[use_cache] = generate(model, prompt, cfg=cfg, use_cache=use_cache)
        results[use_cache, "s"] = time.perf_counter() - start
    same = torch.equal(results[True], results[False])
    console.print(f"Greedy generation of {new_tokens} tokens: with KV cache "
                  f"{new_tokens / results[True, 's']:.0f} tokens/s, without "
                  f"{new_tokens / results[False, 's']:.0f} tokens/s; same tokens: "
                  f"{'[green]yes[/]' if same else '[red]no[/]'}")
    console.print(f"Token ids: {results[True][0, 4:].tolist()}")
    console.print("(An untrained model: the ids are arbitrary. `minimind train pretrain` makes them words.)")


def export(
    weights: str = typer.Argument(..., help="A .safetensors or .pth checkpoint (or a stage name), or a transformers "
                                  "folder."),
    out_dir: Path = typer.Argument(..., help="New (or empty) folder to write the Hugging Face model into."),
    tokenizer: Path | None = typer.Option(None, help="The tokenizer folder to write beside it (default: the shipped "
                                          "one; official .pth weights: the one beside them; a transformers folder: "
                                          "its own). Refused if the weights record another."),
    lora: str | None = typer.Option(None, "--lora", help="LoRA adapters to merge into the weights first "
                                    "(stage name or path)."),
    save_dir: str = typer.Option("out", "--save-dir", help="Where stage names are looked up."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Write into a folder that is not empty, replacing "
                                   "its files of the same names."),
) -> None:
    """Write a checkpoint as a Hugging Face folder: Llama (MiniMind2), Qwen3 or Qwen3-MoE (minimind-3), Qwen2-MoE
    (MiniMind2-MoE), with its tokenizer, chat template and generation_config.json."""
    from minimind_notes.chat import load_for_inference
    from minimind_notes.cli.console import note
    from minimind_notes.model.export import check_export_target, export_hf
    from minimind_notes.model.hf_format import ARCHITECTURES, model_type

    check_export_target(out_dir, overwrite)  # before loading: a wrong target costs nothing
    model, tok, _ = load_for_inference(weights, str(tokenizer) if tokenizer else None, lora, "cpu", save_dir,
                                       say=note)
    out = export_hf(model, out_dir, tok, overwrite)
    console.print(f"Wrote {out}/config.json, model.safetensors, generation_config.json and {tok.describe()}'s "
                  "tokenizer.json and tokenizer_config.json (chat template) "
                  f"({ARCHITECTURES[model_type(model.config)]}). Load it with "
                  f"transformers.AutoModelForCausalLM.from_pretrained('{out}').")
