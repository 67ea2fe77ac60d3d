"""Progress records (atomic, recoverable, checklists) and the learner's notes."""

import json
from datetime import date

from typer.testing import CliRunner

from minimind_notes.cli.app import app
from minimind_notes.curriculum.checklist import checklist, module_done
from minimind_notes.curriculum.notes import append_log, check_notes, init_notes
from minimind_notes.curriculum.progress import Progress
from minimind_notes.curriculum.schema import load_curriculum

runner = CliRunner()
CURRICULUM = load_curriculum()


def test_progress_writes_atomically_and_recovers_from_a_corrupt_file(tmp_path):
    path = tmp_path / "progress.json"
    p = Progress(path)
    p.record_quiz("normalization", 5, 6, ["q3"], review=False, questions=6)
    assert json.loads(path.read_text())["quizzes"]["normalization"]["missed"] == ["q3"]
    assert not list(tmp_path.glob("*.tmp*"))  # the temp file was renamed into place
    path.write_text("{ not json")
    fresh = Progress(path)
    assert fresh.warning and "starting fresh" in fresh.warning
    assert list(tmp_path.glob("progress.json.bak-*")) and fresh.data["quizzes"] == {}


def test_quiz_review_raises_best_score(tmp_path):
    p = Progress(tmp_path / "p.json")
    p.record_quiz("attention", 6, 8, ["a", "b"], review=False, questions=8)
    assert p.quiz("attention")["best"] == 0.75
    p.record_quiz("attention", 1, 2, ["b"], review=True, questions=8)
    assert p.quiz("attention")["missed"] == ["b"] and p.quiz("attention")["best"] == 7 / 8


def test_checklist_items_follow_the_recorded_facts(tmp_path):
    p = Progress(tmp_path / "p.json")
    quick = CURRICULUM.paths["quick"]
    assert not any(r.done for r in checklist(CURRICULUM, p, quick))
    for step in quick.steps:
        p.record_experiment(step.module, step.experiment, passed=True, quick=True, seconds=1, checks=3)
    assert all(r.done for r in checklist(CURRICULUM, p, quick))

    norm = CURRICULUM.module("normalization")
    for e in norm.experiments:
        p.record_experiment(norm.id, e.id, passed=True, quick=True, seconds=1, checks=3)
    assert not module_done(p, norm)  # the quiz is still missing
    p.record_quiz(norm.id, 7, 8, ["x"], review=False, questions=8)
    assert module_done(p, norm)
    p.record_experiment(norm.id, "exp1", passed=False, quick=True, seconds=1, checks=3)
    assert not module_done(p, norm)  # a failed check un-ticks it

    mastery = CURRICULUM.paths["mastery"]
    p.record_training("pretrain", {"val_ppl": 4.2}, "/data/mine.jsonl", own_data=True)
    assert [r.done for r in checklist(CURRICULUM, p, mastery)] == [True, False, True]
    p.record_training("full_sft", {}, "data/sft.jsonl", own_data=False)
    p.record_training("lora", {}, "data/lora_identity.jsonl", own_data=False)
    assert all(r.done for r in checklist(CURRICULUM, p, mastery))


def test_progress_command_and_reset(monkeypatch, tmp_path):
    result = runner.invoke(app, ["progress", "--path", "quick"])
    assert result.exit_code == 0, result.output
    assert "0/3" in result.output
    bad = runner.invoke(app, ["progress", "--path", "nope"])
    assert bad.exit_code == 2 and "unknown path" in bad.output
    Progress().record_experiment("normalization", "exp1", passed=True, quick=True, seconds=1, checks=3)
    assert runner.invoke(app, ["progress", "reset"], input="n\n").exit_code == 1
    assert Progress().experiment("normalization", "exp1")
    result = runner.invoke(app, ["progress", "reset"], input="y\n")
    assert result.exit_code == 0 and Progress().experiment("normalization", "exp1") is None


def test_notes_init_never_overwrites(tmp_path):
    written = init_notes(tmp_path, "en", today=date(2026, 11, 29))
    assert all(w for _, w in written)
    log = tmp_path / "docs" / "learning_log.md"
    log.write_text(log.read_text() + "\nmy own line\n")
    result = runner.invoke(app, ["notes", "init", str(tmp_path)])
    assert result.exit_code == 0 and "kept" in result.output
    assert "my own line" in log.read_text()
    assert check_notes(tmp_path) == []


def test_notes_log_adds_to_today_or_a_new_entry(tmp_path):
    init_notes(tmp_path, "zh", today=date(2026, 11, 28))
    log = tmp_path / "docs" / "learning_log.md"
    assert append_log(log, "跑了 RoPE 实验", "zh", today=date(2026, 11, 29)) == "a new entry"
    assert append_log(log, "second line", "zh", today=date(2026, 11, 29)) == "today's entry"
    text = log.read_text()
    assert text.index("## 2026-11-29") < text.index("## 2026-11-28")
    assert text.index("跑了 RoPE 实验") < text.index("second line") < text.index("## 2026-11-28")
    assert check_notes(tmp_path) == []


def test_notes_check_reports_lines(tmp_path):
    init_notes(tmp_path, "en", today=date(2026, 11, 28))
    log = tmp_path / "docs" / "learning_log.md"
    log.write_text(log.read_text() + "\n## 2026-11-30\n- later date below an older one\n\n## 2026-13-01\n")
    kb = tmp_path / "docs" / "knowledge_base.md"
    kb.write_text(kb.read_text() + "\n### Q5: skipped a number\nA:\n")
    result = runner.invoke(app, ["notes", "check", str(tmp_path)])
    assert result.exit_code == 1
    assert "newest entries go first" in result.output and "not a valid date" in result.output
    assert "Q5 follows Q3: expected Q4" in result.output
    line = next(i for i, s in enumerate(log.read_text().splitlines(), 1) if s == "## 2026-11-30")
    assert f"learning_log.md:{line}:" in result.output
    missing = runner.invoke(app, ["notes", "check", str(tmp_path / "elsewhere")])
    assert missing.exit_code == 1 and "notes init" in missing.output
