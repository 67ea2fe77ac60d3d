"""MiniMind's trainer flags (train_pretrain.py, train_full_sft.py, train_lora.py, train_dpo.py,
train_distillation.py, train_grpo.py) parse with their value syntax, reach the field that holds their
meaning, and take effect; MiniMind's README training commands run unchanged on files in MiniMind's formats;
--time-budget bounds the whole command."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from minimind_notes.cli.shared import MiniMindGroup
from minimind_notes.cli.train_cmds import TrainCommand, switch_values, train_options
from minimind_notes.errors import MiniMindError, UsageError
from minimind_notes.train.config import TrainConfig
from minimind_notes.train.loop import Trainer, train
from tests.test_train import config, corpus  # noqa: F401 (the module's corpus fixture)

QUIET = lambda *a: None  # noqa: E731


def metrics(run_dir: str) -> list[dict]:
    return [json.loads(line) for line in Path(run_dir, "metrics.jsonl").read_text().splitlines()]


def parsed(*args: str) -> dict:
    """The TrainConfig fields `minimind train ARGS` asks for (nothing runs)."""
    captured = {}
    app = typer.Typer(cls=MiniMindGroup)  # the group gives every flag its underscore spelling
    app.command(cls=TrainCommand)(train_options(lambda **values: captured.update(values)))
    app.command("other")(lambda: None)  # two commands: the stage is an argument of `train`
    result = CliRunner().invoke(app, ["train", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return captured


def test_switches_take_minimind_values_and_stay_flags():
    assert switch_values(["pretrain", "--use_moe", "1", "--use_compile=0", "--from_resume", "1"]) == [
        "pretrain", "--use_moe", "--from_resume"]
    assert switch_values(["sft", "--use-moe", "--epochs", "1"]) == ["sft", "--use-moe", "--epochs", "1"]
    assert switch_values(["--use-moe", "sft"]) == ["--use-moe", "sft"]  # the stage is no value
    with pytest.raises(UsageError, match="--use_moe 2: expected 0 or 1"):
        switch_values(["pretrain", "--use_moe", "2"])


def test_every_minimind_flag_reaches_its_field():
    common = ["--save_dir", "o", "--save_weight", "w", "--epochs", "3", "--batch_size", "5", "--learning_rate",
              "1e-4", "--device", "cpu", "--dtype", "bfloat16", "--num_workers", "2", "--accumulation_steps", "4",
              "--grad_clip", "0.5", "--log_interval", "7", "--save_interval", "9", "--hidden_size", "64",
              "--num_hidden_layers", "2", "--max_seq_len", "128", "--use_moe", "1", "--data_path", "d.jsonl",
              "--from_weight", "none", "--from_resume", "1", "--use_wandb", "--wandb_project", "P",
              "--use_compile", "1"]
    v = parsed("pretrain", *common)
    assert (v["save_dir"], v["run_name"], v["epochs"], v["batch_size"], v["learning_rate"], v["device"]) == (
        "o", "w", 3, 5, 1e-4, "cpu")
    assert (v["precision"], v["num_workers"], v["accumulation_steps"], v["grad_clip"], v["log_every"]) == (
        "bfloat16", 2, 4, 0.5, 7)
    assert (v["save_every"], v["hidden_size"], v["num_hidden_layers"], v["max_seq_len"], v["use_moe"]) == (
        9, 64, 2, 128, True)
    assert (v["data_path"], v["from_weight"], v["from_resume"], v["use_wandb"], v["wandb_project"]) == (
        "d.jsonl", "none", True, True, "P")
    assert v["compile"] is True and parsed("pretrain", "--use_moe", "0", "--use_compile", "0")["use_moe"] is False
    lora = parsed("lora", "--lora_name", "lora_medical")
    assert TrainConfig(stage="lora", lora_name=lora["lora_name"]).run_name == "lora_medical"
    assert TrainConfig(stage="dpo", **{"beta": parsed("dpo", "--beta", "0.3")["beta"]}).dpo_beta == 0.3
    grpo = parsed("grpo", "--beta", "0.02", "--num_generations", "4", "--max_gen_len", "32")
    cfg = TrainConfig(stage="grpo", beta=grpo["beta"], num_generations=grpo["num_generations"],
                      grpo_max_new_tokens=grpo["grpo_max_new_tokens"])
    assert (cfg.kl_beta, cfg.num_generations, cfg.grpo_max_new_tokens) == (0.02, 4, 32)
    d = parsed("distill", "--from_student_weight", "full_sft", "--from_teacher_weight", "full_sft",
               "--student_hidden_size", "64", "--student_num_layers", "1", "--teacher_hidden_size", "128",
               "--teacher_num_layers", "2", "--student_use_moe", "0", "--teacher_use_moe", "1", "--alpha", "0.3",
               "--temperature", "1.5")
    assert (d["from_weight"], d["teacher_weight"], d["hidden_size"], d["num_hidden_layers"]) == (
        "full_sft", "full_sft", 64, 1)
    assert (d["teacher_hidden_size"], d["teacher_num_layers"], d["use_moe"], d["teacher_use_moe"]) == (
        128, 2, False, True)
    assert (d["distill_alpha"], d["distill_temperature"]) == (0.3, 1.5)


def test_epochs_given_means_whole_passes_not_the_default_time_budget():
    assert TrainConfig(stage="sft").time_budget == 240  # the stage's laptop default
    assert TrainConfig(stage="sft", epochs=2).time_budget is None  # MiniMind's --epochs 2: two passes
    assert TrainConfig(stage="sft", epochs=2, time_budget=60).time_budget == 60


def test_stage_bound_flags_are_refused_elsewhere_with_one_message():
    with pytest.raises(UsageError, match="--beta is a DPO or GRPO setting"):
        TrainConfig(stage="sft", beta=0.1)
    with pytest.raises(UsageError, match="--lora_name names LoRA weights"):
        TrainConfig(stage="sft", lora_name="x")
    with pytest.raises(UsageError, match="disagree"):
        TrainConfig(stage="lora", lora_name="x", run_name="y")
    with pytest.raises(UsageError, match="distillation's teacher"):
        TrainConfig(stage="pretrain", teacher_hidden_size=768)
    with pytest.raises(UsageError, match="'float16' is not a precision"):
        TrainConfig(stage="pretrain", precision="float16")


def test_from_resume_continues_a_saved_run_and_starts_one_otherwise(corpus, tmp_path):  # noqa: F811
    first = train(config(corpus, tmp_path, max_steps=4, save_every=2, log_every=2, from_resume=True), echo=QUIET)
    assert first.steps == 4  # nothing saved yet: a fresh run
    said = []
    again = train(config(corpus, tmp_path, max_steps=6, save_every=2, log_every=2, from_resume=True), echo=said.append)
    assert again.steps == 6 and any("Resumed" in line for line in said)
    assert [r["step"] for r in metrics(again.run_dir) if "loss" in r] == [2, 4, 6]  # steps 1-4 not redone


def test_save_weight_save_interval_and_log_interval_take_effect(corpus, tmp_path):  # noqa: F811
    summary = train(config(corpus, tmp_path, max_steps=6, run_name="mine", save_every=3, log_every=2),
                    echo=QUIET)
    assert summary.weights.endswith("mine_64.safetensors")
    states = sorted(p.name for p in (tmp_path / "out" / "runs" / "mine_64" / "checkpoints").iterdir())
    assert any("6" in s for s in states)
    assert [r["step"] for r in metrics(summary.run_dir)] == [2, 4, 6, 6]  # three log rows, then the final evaluation


def test_num_workers_builds_the_same_batches_in_threads(corpus, tmp_path):  # noqa: F811
    plain = Trainer(config(corpus, tmp_path, "sft"), echo=QUIET).objective
    threaded = Trainer(config(corpus, tmp_path, "sft", num_workers=2), echo=QUIET).objective
    for _ in range(3):
        a, b = plain.next_batch(), threaded.next_batch()
        assert all((x == y).all() for x, y in zip(a, b, strict=True))
    assert any(t.name.startswith("minimind-batches") for t in threading.enumerate())
    assert threaded.state_dict() == plain.state_dict()  # batches built ahead are not counted as trained


def test_lora_name_names_the_adapter_weights(corpus, tmp_path):  # noqa: F811
    train(config(corpus, tmp_path, "sft", max_steps=2), echo=QUIET)
    summary = train(config(corpus, tmp_path, "lora", from_weight="full_sft", max_steps=2, lora_name="lora_medical"),
                    echo=QUIET)
    assert summary.weights.endswith("lora_medical_64.safetensors")


def test_teacher_flags_find_and_check_the_teacher(corpus, tmp_path):  # noqa: F811
    train(config(corpus, tmp_path, "sft", max_steps=2, hidden_size=128), echo=QUIET)
    found = Trainer(config(corpus, tmp_path, "distill", max_steps=2, hidden_size=64, teacher_hidden_size=128,
                           teacher_num_layers=2), echo=QUIET).teacher
    assert found.name == "full_sft_128.safetensors"
    with pytest.raises(UsageError, match="the teacher .* has 2 layers"):
        Trainer(config(corpus, tmp_path, "distill", hidden_size=64, teacher_hidden_size=128,
                       teacher_num_layers=8), echo=QUIET)


def test_use_wandb_logs_offline_or_says_what_to_install(corpus, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setitem(sys.modules, "wandb", None)  # not installed
    with pytest.raises(MiniMindError, match="wandb is not installed"):
        Trainer(config(corpus, tmp_path, use_wandb=True), echo=QUIET)
    calls = []

    class Run:
        id = "abc"

        def log(self, values, step):
            calls.append(("log", step, sorted(values)))

        def finish(self):
            calls.append(("finish",))

    fake = type(sys)("wandb")
    fake.init = lambda **kw: calls.append(("init", kw)) or Run()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    train(config(corpus, tmp_path, max_steps=4, use_wandb=True, log_every=2), echo=QUIET)
    init = calls[0][1]
    assert (init["project"], init["mode"], init["name"]) == ("MiniMind-Pretrain", "offline", "pretrain_64")
    assert ("log", 2, sorted(["loss", "lr", "grad_norm", "tokens_per_s"])) in calls and calls[-1] == ("finish",)


# MiniMind's README trains with `python train_<script>.py [flags]` in trainer/; here each is `minimind train STAGE
# [the same flags]`. The tiny model's flags and --max-steps are added to keep the test fast.
README_COMMANDS = [
    ("train_pretrain.py", []),
    ("train_full_sft.py", []),
    ("train_lora.py", ["--lora_name", "lora_identity"]),
    ("train_dpo.py", []),
    ("train_distillation.py", ["--from_student_weight", "none", "--student_hidden_size", "64",
                               "--student_num_layers", "1", "--teacher_hidden_size", "64"]),
    ("train_grpo.py", []),
    ("train_pretrain.py", ["--from_resume", "1", "--use_moe", "0", "--dtype", "bfloat16", "--use_compile", "0",
                           "--save_weight", "pretrain", "--save_interval", "1", "--log_interval", "1",
                           "--num_workers", "1", "--epochs", "1", "--batch_size", "4", "--learning_rate", "5e-4",
                           "--accumulation_steps", "1", "--grad_clip", "1.0"]),
]
SCRIPT_STAGE = {"train_pretrain.py": "pretrain", "train_full_sft.py": "sft", "train_lora.py": "lora",
                "train_dpo.py": "dpo", "train_distillation.py": "distill", "train_grpo.py": "grpo"}


def minimind_format_files(root: Path) -> dict[str, Path]:
    """Small files in MiniMind's formats: pretrain {"text"}, SFT/LoRA {"conversations": [{role, content}]},
    DPO {"chosen": [...], "rejected": [...]}; GRPO reads this project's checkable {"prompt", "answer"} rows."""
    turns = [[{"role": "user", "content": f"What is {a} + {b}?"},
              {"role": "assistant", "content": f"{a} + {b} = {a + b}."}] for a in range(1, 7) for b in range(1, 7)]
    rows = {
        "pretrain": [{"text": f"Mia had {a} apples and found {b} more, so Mia had {a + b} apples."}
                     for a in range(1, 9) for b in range(1, 9)],
        "sft": [{"conversations": t} for t in turns],
        "dpo": [{"chosen": t, "rejected": [t[0], {"role": "assistant", "content": "I will not say."}]}
                for t in turns],
        "grpo": [{"prompt": f"What is {a} + {b}?", "answer": str(a + b)} for a in range(1, 7) for b in range(1, 7)],
    }
    paths = {}
    for name, items in rows.items():
        paths[name] = root / f"{name}.jsonl"
        paths[name].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items), encoding="utf-8")
    return paths


@pytest.mark.slow
def test_minimind_readme_training_commands_run_unchanged(corpus, tmp_path):  # noqa: F811
    from minimind_notes.cli.app import app

    files = minimind_format_files(tmp_path)
    data = {"pretrain": "pretrain", "sft": "sft", "lora": "sft", "dpo": "dpo", "distill": "sft", "grpo": "grpo"}
    tiny = ["--hidden_size", "64", "--num_hidden_layers", "2", "--max_seq_len", "64", "--batch_size", "4",
            "--max_steps", "2", "--eval_batches", "1", "--num_generations", "2", "--tokenizer", str(corpus / "tok"),
            "--save_dir", str(tmp_path / "out"), "--device", "cpu"]
    for script, flags in README_COMMANDS:
        stage = SCRIPT_STAGE[script]
        args = ["train", stage, "--data_path", str(files[data[stage]]), *tiny, *flags]
        result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, f"{script} {' '.join(flags)}:\n{result.output}"
        assert "time: startup" in result.output
    assert (tmp_path / "out" / "lora_identity_64.safetensors").is_file()
    assert "Resumed" in result.output  # the last command continued the first one's saved run


@pytest.mark.slow
def test_time_budget_bounds_the_whole_command(corpus, tmp_path):  # noqa: F811
    """Start-up, data, evaluations and saving included: the process's wall time stays within the budget + 5%
    + what the command cannot see: the interpreter's start and exit with torch loaded, measured here (on a loaded
    machine seconds, and noisy: twice the measured time is allowed) + 0.5 s."""
    files = minimind_format_files(tmp_path)
    budget = 15
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    start = time.monotonic()
    inside = subprocess.run([sys.executable, "-c", "import time; t = time.monotonic(); import minimind_notes, torch; "
                             "print(time.monotonic() - t)"], capture_output=True, text=True, env=env, check=True)
    unseen = time.monotonic() - start - float(inside.stdout)
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "minimind_notes", "train", "pretrain", "--data_path", str(files["pretrain"]),
         "--tokenizer", str(corpus / "tok"), "--hidden_size", "64", "--num_hidden_layers", "2", "--max_seq_len", "64",
         "--batch_size", "4", "--epochs", "100000", "--eval_every", "20", "--save_interval", "50", "--device", "cpu",
         "--time_budget", str(budget), "--save_dir", str(tmp_path / "out")],
        capture_output=True, text=True, env=env, timeout=120)
    wall = time.monotonic() - start
    assert done.returncode == 0, done.stdout + done.stderr
    assert wall <= budget * 1.05 + 2 * unseen + 0.5, f"{wall:.1f} s for {budget} s (+{unseen:.1f} s):\n{done.stdout}"
    summary = json.loads(next((tmp_path / "out" / "runs").glob("*/summary.json")).read_text())
    assert summary["steps"] > 0 and set(summary["phases"]) == {"startup", "data", "eval", "loop", "save"}
    assert summary["wall_seconds"] <= budget * 1.05 and summary["phases"]["loop"] > 0
    assert "time: startup" in done.stdout
