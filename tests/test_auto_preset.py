"""--preset auto: when it is the default, what the plan keeps inside the budget, and bench budget's split."""

import pytest
import torch

from minimind_notes.bench.budget_bench import split_train_val
from minimind_notes.errors import UsageError
from minimind_notes.train.auto_preset import CANDIDATES, RESERVE, plan_auto, predicted_loss
from minimind_notes.train.config import TrainConfig


def test_auto_is_the_default_only_for_own_data_in_a_budget(tmp_path):
    data = str(tmp_path / "my.txt")
    assert TrainConfig(stage="pretrain", data_path=data, time_budget=60).preset == "auto"
    assert TrainConfig(stage="pretrain", data_path=data).preset == "tiny"  # the stage's budget, not the user's
    assert TrainConfig(stage="pretrain", time_budget=60).preset == "tiny"  # the embedded data
    assert TrainConfig(stage="pretrain", data_path=data, time_budget=60, hidden_size=64).preset == "tiny"
    assert TrainConfig(stage="sft", data_path=data, time_budget=60).preset == "tiny"
    with pytest.raises(UsageError, match="--preset auto"):
        TrainConfig(stage="pretrain", preset="auto", hidden_size=64, time_budget=60)
    with pytest.raises(UsageError, match="--preset auto"):
        TrainConfig(stage="pretrain", preset="auto", time_budget=0)


def test_the_law_prefers_more_parameters_and_more_tokens():
    assert predicted_loss(2_000_000, 1e6) < predicted_loss(1_000_000, 1e6)
    assert predicted_loss(1_000_000, 2e6) < predicted_loss(1_000_000, 1e6)


@pytest.mark.slow  # a cold process pays ~3 s for its first training step
def test_plan_picks_a_probed_candidate_and_leaves_the_reserve():
    lines = []
    plan = plan_auto(4.0, torch.device("cpu"), None, batch=2, seq_len=16, vocab_size=256, echo=lines.append)
    assert (plan.hidden, plan.layers) in CANDIDATES
    assert plan.chosen.predicted_loss == min(c.predicted_loss for c in plan.candidates)
    assert plan.train_seconds == max(4.0 * (1 - RESERVE) - plan.probe_seconds, 1.0)
    assert "--preset auto: probed" in lines[0]


def test_budget_split_cuts_at_a_line_end(tmp_path):
    source = tmp_path / "text.txt"
    source.write_text("".join(f"line {i}\n" for i in range(100)))
    train, val = split_train_val(source, tmp_path)
    assert train.read_text().endswith("\n") and train.read_text() + val.read_text() == source.read_text()
    assert 0.85 < train.stat().st_size / source.stat().st_size < 0.95


@pytest.mark.slow  # trains for real: a probe and a 3-second budget
def test_bench_budget_prints_held_out_bits_per_byte(tmp_path):
    import json

    from typer.testing import CliRunner

    from minimind_notes.cli.app import app

    data = tmp_path / "story.txt"
    data.write_text("".join(f"Mia has {i} apples and gives {i % 3} to Tom.\n" for i in range(400)))
    result = CliRunner().invoke(app, ["bench", "budget", "--data", str(data), "--budgets", "3", "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)[0]
    assert row["budget_s"] == 3 and 0 < row["val_bpb"] < 10 and (row["hidden"], row["layers"]) in CANDIDATES


def test_bench_budget_refuses_a_bad_list():
    from typer.testing import CliRunner

    from minimind_notes.cli.app import app

    result = CliRunner().invoke(app, ["bench", "budget", "--budgets", "30,abc"])
    assert result.exit_code == 2 and "--budgets" in result.output
