"""The model-facing commands: demo, export, bench model, and the CLI's error handling."""

import json
import subprocess
import sys

import torch
from typer.testing import CliRunner

from minimind_notes.cli.app import app
from minimind_notes.model import MiniMindForCausalLM, save_checkpoint
from tests.conftest import tiny_config

runner = CliRunner()


def test_help_does_not_import_torch():
    code = ("import sys; from minimind_notes.cli.app import app; "
            "assert 'torch' not in sys.modules and 'matplotlib' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "minimind_notes", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.startswith("minimind-notes ")


def test_demo_shows_parameters_and_cache_agreement():
    result = runner.invoke(app, ["demo", "--new-tokens", "8"])
    assert result.exit_code == 0, result.output
    assert "2,003,904 parameters" in result.output
    assert "same tokens: yes" in result.output


def test_export_command_and_missing_file(tmp_path):
    torch.manual_seed(0)
    save_checkpoint(MiniMindForCausalLM(tiny_config()), tmp_path / "small.safetensors")
    result = runner.invoke(app, ["export", str(tmp_path / "small.safetensors"), str(tmp_path / "hf")])
    assert result.exit_code == 1 and "has a vocabulary of 128 tokens but the tokenizer has 6400" in result.output
    save_checkpoint(MiniMindForCausalLM(tiny_config(vocab_size=6400)), tmp_path / "m.safetensors")
    result = runner.invoke(app, ["export", str(tmp_path / "m.safetensors"), str(tmp_path / "hf")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["model_type"] == "llama"
    assert "{{" in json.loads((tmp_path / "hf" / "tokenizer_config.json").read_text())["chat_template"]
    result = runner.invoke(app, ["export", str(tmp_path / "missing.pth"), str(tmp_path / "hf2")])
    assert result.exit_code == 1
    assert "checkpoint not found" in result.output
    assert "Traceback" not in result.output


def test_bench_model_runs_small():
    result = runner.invoke(app, ["bench", "model", "--presets", "tiny", "--batch", "1",
                                 "--seq-len", "16", "--steps", "1", "--new-tokens", "4",
                                 "--no-hf", "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)[0]
    assert row["preset"] == "tiny" and row["train_tokens_per_s"] > 0 and row["cache_speedup"] > 0


def test_bench_data_reports_prepare_next_to_the_encoder_alone(tmp_path):
    corpus = tmp_path / "small.jsonl"
    corpus.write_text("".join(json.dumps({"text": f"Mia has {i} apples. 小明有{i}个苹果。"}) + "\n"
                              for i in range(200)), encoding="utf-8")
    result = runner.invoke(app, ["bench", "data", "--data", str(corpus), "--repeats", "1"])
    assert result.exit_code == 0, result.output
    assert "200 documents" in result.output and "data prepare:" in result.output
    assert "encoder alone" in result.output


def test_bench_decode_runs_small():
    result = runner.invoke(app, ["bench", "decode", "--presets", "tiny", "--new-tokens", "4", "--prompt-tokens", "4",
                                 "--repeats", "1", "--no-hf", "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)[0]
    assert row["tokens_per_s"] > 0 and row["concatenated_cache_tokens_per_s"] > 0 and row["vs_hf"] is None


def test_bench_gpu_says_so_without_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = runner.invoke(app, ["bench", "gpu"])
    assert result.exit_code == 0, result.output
    assert "No CUDA GPU here" in result.output
