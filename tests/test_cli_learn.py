"""The learner-facing commands through typer's CliRunner."""

import json

import pytest
from typer.testing import CliRunner

from minimind_notes.cli.app import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIMIND_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MINIMIND_LANG", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


def test_list_shows_tiers_and_modules():
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    assert "normalization" in result.output and "Foundation" in result.output


def test_run_by_alias_records_progress(home):
    result = runner.invoke(app, ["run", "norm", "1", "--quick"])
    assert result.exit_code == 0, result.output
    assert "✓" in result.output and "checks passed" in result.output
    record = json.loads((home / "progress.json").read_text())["experiments"]["normalization/exp1"]
    assert record["passed"] is True
    listed = runner.invoke(app, ["list", "norm"])
    assert "1/" in listed.output


def test_run_json_and_out(tmp_path):
    result = runner.invoke(app, ["run", "01", "gradient", "--json", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["passed"] and data["metrics"]["std_per_layer_no_norm"][-1] < 0.05
    assert (tmp_path / "r" / "metrics.json").is_file() and (tmp_path / "r" / "activation_std.png").is_file()


def test_unknown_names_exit_2_with_suggestion():
    result = runner.invoke(app, ["run", "normalisation", "exp1"])
    assert result.exit_code == 2
    assert "did you mean normalization" in result.output
    result = runner.invoke(app, ["run", "norm", "exp9"])
    assert result.exit_code == 2 and "unknown experiment" in result.output
    result = runner.invoke(app, ["path", "speedy"])
    assert result.exit_code == 2 and "quick" in result.output
    assert "Traceback" not in result.output


def test_path_dry_run_and_learn_in_both_languages():
    result = runner.invoke(app, ["path", "quick", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "1." in result.output and "Normalization" in result.output
    zh = runner.invoke(app, ["path", "quick", "--dry-run", "--lang", "zh"])
    assert "归一化" in zh.output
    learn = runner.invoke(app, ["learn", "norm"])
    assert learn.exit_code == 0 and "RMSNorm" in learn.output
    code = runner.invoke(app, ["learn", "norm", "--code", "--lang", "zh"])
    assert code.exit_code == 0 and "RMSNorm" in code.output
    env = runner.invoke(app, ["learn", "norm"], env={"MINIMIND_LANG": "zh"})
    assert env.output != learn.output
    bad = runner.invoke(app, ["learn", "norm", "--lang", "fr"])
    assert bad.exit_code == 2 and "unknown language" in bad.output


def test_path_quick_runs_and_resumes(home):
    result = runner.invoke(app, ["path", "quick", "--yes"])
    assert result.exit_code == 0, result.output
    assert "complete" in result.output
    state = json.loads((home / "progress.json").read_text())["paths"]["quick"]
    assert state["next_step"] == state["total"] and "completed" in state
    # Stop after the first step (EOF at the Enter prompt), then resume at step 2.
    runner.invoke(app, ["path", "quick", "--from", "1"], input="")
    state = json.loads((home / "progress.json").read_text())["paths"]["quick"]
    assert state["next_step"] == 1
    dry = runner.invoke(app, ["path", "quick", "--dry-run"])
    assert "→  2." in dry.output


def test_corrupt_progress_file_is_moved_aside(home):
    home.mkdir(parents=True)
    (home / "progress.json").write_text("{not json", encoding="utf-8")
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    assert "unreadable" in result.output
    assert list(home.glob("progress.json.bak-*"))
