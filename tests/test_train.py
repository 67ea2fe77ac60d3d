"""The shared trainer on a tiny model and a tiny self-made corpus: every stage runs and
learns, resume is exact, the NaN guard fires, DDP equals one process."""

import json
import math
import random

import pytest
import torch

from minimind_notes.data.tokenizer import train_tokenizer
from minimind_notes.errors import MiniMindError
from minimind_notes.train.config import TrainConfig
from minimind_notes.train.loop import Trainer, TrainingDiverged, train

NAMES = ["Mia", "Tom", "Lily", "Ben"]
THINGS = ["apples", "pears", "cakes", "stones"]


def story(rng: random.Random) -> str:
    a, b = rng.randint(1, 9), rng.randint(1, 9)
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    return f"{name} had {a} {thing} and found {b} more, so {name} had {a + b} {thing}."


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    rng = random.Random(0)

    def write(name, rows):
        (root / name).write_text("".join(json.dumps(r) + "\n" for r in rows))

    write("pretrain.jsonl", [{"text": " ".join(story(rng) for _ in range(4))} for _ in range(400)])
    write("pretrain_val.jsonl", [{"text": " ".join(story(rng) for _ in range(4))} for _ in range(40)])
    convs = []
    for _ in range(200):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        convs.append({"conversations": [{"role": "user", "content": f"What is {a} + {b}?"},
                                        {"role": "assistant", "content": f"{a} + {b} = {a + b}."}]})
    write("sft.jsonl", convs[:180])
    write("sft_val.jsonl", convs[180:])
    pairs = [{"chosen": [c["conversations"][0], c["conversations"][1]],
              "rejected": [c["conversations"][0], {"role": "assistant", "content": "I will not say."}]}
             for c in convs]
    write("dpo.jsonl", pairs[:180])
    write("dpo_val.jsonl", pairs[180:])
    write("rl.jsonl", [{"prompt": f"What is {a} + {b}?", "answer": str(a + b)}
                       for a in range(1, 9) for b in range(1, 9)])
    texts = [json.loads(line)["text"] for line in (root / "pretrain.jsonl").read_text().splitlines()]
    train_tokenizer(texts + ["What is = + ? I will not say. user assistant system"] * 20, root / "tok", 400)
    return root


def config(corpus, tmp_path, stage="pretrain", **kw):
    data = {"pretrain": "pretrain", "sft": "sft", "lora": "sft", "dpo": "dpo", "distill": "sft",
            "grpo": "rl"}[stage]
    val = {"rl": None}.get(data, f"{data}_val.jsonl")
    base = dict(stage=stage, data_path=str(corpus / f"{data}.jsonl"),
                val_path=str(corpus / val) if val else None, tokenizer=str(corpus / "tok"),
                hidden_size=64, num_hidden_layers=2, max_seq_len=64, batch_size=8, max_steps=30,
                save_dir=str(tmp_path / "out"), eval_every=0, save_every=10, log_every=5, eval_batches=2,
                from_weight="none", learning_rate=3e-3, warmup_steps=5, device="cpu",
                precision="fp32")  # exact comparisons (resume, DDP) must not depend on the CPU's bf16
    base.update(kw)
    return TrainConfig(**base)


def losses(run_dir):
    return [r["loss"] for r in map(json.loads, open(f"{run_dir}/metrics.jsonl")) if "loss" in r]


def test_pretrain_learns_and_saves(corpus, tmp_path):
    summary = train(config(corpus, tmp_path, max_steps=60), echo=lambda *a: None)
    assert summary.final_eval["val_loss"] < summary.first_eval["val_loss"] - 1.0
    assert summary.final_eval["val_bpb"] > 0 and math.isfinite(summary.final_eval["val_ppl"])
    assert (tmp_path / "out" / "pretrain_64.safetensors").is_file()
    curve = losses(summary.run_dir)
    assert curve[-1] < curve[0]


def test_every_stage_runs_and_learns(corpus, tmp_path):
    quiet = lambda *a: None
    train(config(corpus, tmp_path, max_steps=40), echo=quiet)
    sft = train(config(corpus, tmp_path, "sft", from_weight="pretrain", max_steps=40), echo=quiet)
    assert sft.final_eval["val_loss"] < sft.first_eval["val_loss"]
    lora = train(config(corpus, tmp_path, "lora", from_weight="full_sft", max_steps=20), echo=quiet)
    assert lora.trainable_params < lora.params / 5
    from safetensors.torch import load_file

    saved = load_file(str(tmp_path / "out" / "lora_64.safetensors"))
    assert saved and all(".lora_" in k for k in saved)
    dpo = train(config(corpus, tmp_path, "dpo", from_weight="full_sft", max_steps=20, learning_rate=1e-3),
                echo=quiet)
    assert dpo.first_eval["val_reward_acc"] == 0.5  # policy == reference: every pair a tie
    assert dpo.final_eval["val_reward_acc"] > 0.5
    assert dpo.final_eval["val_reward_margin"] > 0
    distill = train(config(corpus, tmp_path, "distill", teacher_weight="full_sft", max_steps=20,
                           hidden_size=None, num_hidden_layers=None), echo=quiet)
    assert distill.params < sft.params
    curve = losses(distill.run_dir)
    assert curve[-1] < curve[0]
    grpo = train(config(corpus, tmp_path, "grpo", from_weight="full_sft", max_steps=3, batch_size=2,
                        learning_rate=1e-4), echo=quiet)
    assert grpo.steps == 3


def test_dpo_loss_is_log2_at_start(corpus, tmp_path):
    train(config(corpus, tmp_path, "sft", max_steps=5), echo=lambda *a: None)
    trainer = Trainer(config(corpus, tmp_path, "dpo", from_weight="full_sft"), echo=lambda *a: None)
    loss, logs, _ = trainer.objective.loss(trainer.model, trainer.objective.next_batch())
    assert float(loss.detach()) == pytest.approx(math.log(2), abs=1e-6)
    assert logs["reward_margin"] == pytest.approx(0, abs=1e-6)


def test_sft_loss_ignores_non_assistant_tokens(corpus, tmp_path):
    trainer = Trainer(config(corpus, tmp_path, "sft"), echo=lambda *a: None)
    ids, labels = trainer.objective.next_batch()
    learned = labels[labels != -100]
    text = trainer.tok.decode(learned.tolist())
    assert "What is" not in text and "system" not in text and "=" in text


def test_resume_is_exact(corpus, tmp_path):
    quiet = lambda *a: None
    full = train(config(corpus, tmp_path / "a", max_steps=30, log_every=1), echo=quiet)
    # A run that stops after step 17; its last checkpoint is from step 10.
    stopped = Trainer(config(corpus, tmp_path / "b", max_steps=30, log_every=1, save_every=10), echo=quiet)
    while stopped.step < 17:
        stopped.train_step()
        if stopped.step % 10 == 0:
            stopped.save()
    resumed = train(config(corpus, tmp_path / "b", max_steps=30, log_every=1, resume=True), echo=quiet)
    a, b = losses(full.run_dir), losses(resumed.run_dir)
    assert len(b) == 20 and max(abs(x - y) for x, y in zip(a[10:], b, strict=True)) < 1e-6


def test_ctrl_c_finishes_the_step_saves_and_resume_finishes_the_curve(corpus, tmp_path, monkeypatch):
    import os
    import signal

    quiet = lambda *a: None
    full = train(config(corpus, tmp_path / "a", max_steps=20, log_every=1), echo=quiet)
    real_step = Trainer.train_step

    def interrupted(self):
        if self.step == 12:  # a real SIGINT in the middle of step 13: the step still completes
            os.kill(os.getpid(), signal.SIGINT)
        return real_step(self)

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    with pytest.raises(MiniMindError, match="stopped by SIGINT at step 13; the state of that step is saved") as info:
        train(config(corpus, tmp_path / "b", max_steps=20, log_every=1, save_every=0), echo=quiet)
    assert "--resume" in info.value.hint and info.value.exit_code == 130
    monkeypatch.setattr(Trainer, "train_step", real_step)
    resumed = train(config(corpus, tmp_path / "b", max_steps=20, log_every=1, resume=True), echo=quiet)
    a, b = losses(full.run_dir), losses(resumed.run_dir)
    assert len(b) == 20 and max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-6


def test_nan_guard_stops_names_the_cause_and_never_saves_non_finite_weights(corpus, tmp_path):
    from safetensors.torch import load_file

    with pytest.raises(TrainingDiverged) as info:
        train(config(corpus, tmp_path, learning_rate=30.0, grad_clip=0, max_steps=200, warmup_steps=1,
                     save_every=1), echo=lambda *a: None)
    text = str(info.value)
    assert "became" in text and "training stopped" in text and "lower --learning_rate" in text
    assert "--learning_rate 30 is" in text and "gradient clipping is off" in text
    saved = tmp_path / "out" / "pretrain_64.safetensors"
    if "last good checkpoint" in text:
        assert all(torch.isfinite(t).all() for t in load_file(str(saved)).values())
    else:
        assert "no checkpoint was written" in text and not saved.exists()


def test_missing_from_weight_names_expected_path(corpus, tmp_path):
    with pytest.raises(MiniMindError) as info:
        train(config(corpus, tmp_path, "sft", from_weight="pretrain"), echo=lambda *a: None)
    assert "pretrain_64.safetensors" in str(info.value) and "does not exist" in str(info.value)


@pytest.mark.slow
def test_ddp_two_processes_equal_one(corpus, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    def run(nproc, batch, out):
        cfg = config(corpus, tmp_path, max_steps=8, batch_size=batch, save_dir=str(tmp_path / out))
        args = json.dumps(cfg.to_dict())
        worker = str(Path(__file__).with_name("ddp_worker.py"))
        subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                        f"--nproc_per_node={nproc}", worker, args], check=True, cwd=Path(__file__).parents[1])
        return [torch.load(p) for p in sorted((tmp_path / out).glob("rank*.pt"))]

    single = run(1, 8, "one")[0]
    rank0, rank1 = run(2, 4, "two")
    for k in single:
        assert torch.equal(rank0[k], rank1[k]), k
        assert (single[k] - rank0[k]).abs().max() < 1e-5, k


def test_lora_merges_with_the_alpha_it_was_trained_with(corpus, tmp_path):
    from minimind_notes.chat import load_for_inference
    from minimind_notes.train.loop import Trainer

    quiet = lambda *a: None
    train(config(corpus, tmp_path, "sft", max_steps=5), echo=quiet)
    trainer = Trainer(config(corpus, tmp_path, "lora", from_weight="full_sft", max_steps=10, lora_rank=4,
                             lora_alpha=3.0, learning_rate=1e-2), echo=quiet)
    summary = trainer.run()
    merged, _, _ = load_for_inference(str(tmp_path / "out" / "full_sft_64.safetensors"), str(corpus / "tok"),
                                      lora=summary.weights)
    ids = torch.randint(3, 300, (2, 16))
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, trainer.model.eval()(ids).logits, atol=1e-4)


def test_one_declaration_makes_the_config_checks_and_the_command():
    """Every TrainConfig field but the stage is an option of `minimind train`, with help text, under its
    own name (--data-path) and MiniMind's (--data_path); a value out of range names that flag."""
    from dataclasses import fields

    from typer.testing import CliRunner

    from minimind_notes.cli.app import app
    from minimind_notes.errors import UsageError
    from minimind_notes.train.config import OPTIONS

    assert {o.field for o in OPTIONS} == {
        f.name for f in fields(TrainConfig)} - {"stage"}
    shown = CliRunner().invoke(app, ["train", "-h"], env={"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.output
    for option in OPTIONS:
        assert ",".join(option.flags) in shown.output and option.help.split(" (")[0][:40] in shown.output
        assert "--" + option.field in shown.output  # MiniMind's spelling
    with pytest.raises(UsageError, match="--num-generations 1 is out of range"):
        TrainConfig(stage="grpo", num_generations=1)
