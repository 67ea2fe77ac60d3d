"""Exercises (issue #20): every reference solution passes, every skeleton says "not implemented yet", every known
mistake fails with its own hint, bad learner files get one message with a line, passes reach the progress file
and the checklists. Graded in-process (the grader is the same code the child process runs)."""

import json

import pytest
import torch
from typer.testing import CliRunner

from minimind_notes.cli.app import app
from minimind_notes.curriculum.checklist import checklist
from minimind_notes.curriculum.progress import Progress
from minimind_notes.curriculum.schema import load_curriculum
from minimind_notes.exercises.grader import grade_source
from minimind_notes.exercises.registry import NAMES, all_exercises, exercise, find_exercise
from minimind_notes.exercises.skeleton import skeleton

runner = CliRunner()
MISTAKES = [(e.name, m.id) for e in all_exercises() for m in e.mistakes]
RMSNORM = exercise("rmsnorm")


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def grade(name: str, source: str):
    return grade_source(exercise(name), source, "/learner/file.py")


def test_the_issue_lists_fifteen_exercises_each_with_two_or_more_mistakes():
    assert len(NAMES) == 15 and len(set(NAMES)) == 15
    modules = {m.id for m in load_curriculum().modules}
    for e in all_exercises():
        assert e.module in modules, e.name
        assert len(e.mistakes) >= 2 and e.hints, e.name
        assert all(set(doc) == {"en", "zh"} for doc in [e.title, *e.docs.values(), *e.hints]), e.name
        assert all(set(m.hint) == {"en", "zh"} for m in e.mistakes), e.name


@pytest.mark.parametrize("name", NAMES)
def test_reference_solution_passes_including_the_plugged_tiny_model(name):
    report = grade(name, exercise(name).solution)
    assert report.passed, (report.failed_test, report.message)
    assert report.tests == len(report.log)
    kinds = " ".join(report.log)
    assert "bfloat16" in kinds or name in ("grpo_advantages", "bpe_merges", "sft_mask"), "a bf16 case"
    if list(exercise(name).grad_cases()):
        assert "gradients:" in kinds and "float64" in kinds
    if exercise(name).plug is not None:
        assert report.log[-1].startswith("plugged into a tiny MiniMind")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_skeleton_fails_with_not_implemented_yet(name, lang):
    text = skeleton(exercise(name), lang)
    assert "NotImplementedError" in text and ("练习" in text) == (lang == "zh")
    report = grade(name, text)
    assert not report.passed and report.kind == "not_implemented"
    assert "not implemented yet" in report.message and report.line is not None


@pytest.mark.parametrize(("name", "mistake_id"), MISTAKES)
def test_each_known_mistake_fails_with_its_own_hint(name, mistake_id):
    ex = exercise(name)
    mistake = next(m for m in ex.mistakes if m.id == mistake_id)
    report = grade(name, mistake.apply(ex.solution))
    assert not report.passed
    assert report.mistake == mistake_id, (report.failed_test, report.message, report.mistake)
    assert report.hint == mistake.hint["en"]
    assert report.failed_test and report.message


def test_a_value_failure_says_expected_got_and_the_first_index():
    report = grade("rmsnorm", RMSNORM.mistakes[0].apply(RMSNORM.solution))
    assert report.failed_test.startswith("values float32")
    assert "first at index (0, 0, 0): expected 0.652277, got 0.421328" in report.message
    assert "LayerNorm" in report.hint


def test_an_unknown_wrong_answer_fails_without_a_made_up_hint():
    report = grade("rmsnorm", "def rms_norm(x, weight, eps=1e-5):\n    return x * 2\n")
    assert not report.passed and report.kind == "values" and report.hint is None


@pytest.mark.parametrize(("source", "kind", "line", "words"), [
    ("import torch\n\ndef rms_norm(x, weight, eps=1e-5)\n    return x\n", "syntax", 3, "syntax error at line 3"),
    ("import torch\nimport no_such_module_here\n", "import", 2, "No module named"),
    ("def rms_norm(x, w):\n    return x\n", "signature", 1, "expected rms_norm(x, weight, eps)"),
    ("def rms_norm(x, weight, eps=1e-5):\n    y = x\n    return y.nope()\n", "crash", 3, "AttributeError"),
    ("def rms_norm(x, weight, eps=1e-5):\n    return x.tolist()\n", "type", 1, "returned a list"),
    ("def rmsnorm(x, weight, eps=1e-5):\n    return x\n", "missing", None, "no function rms_norm()"),
    ("import sys\nsys.exit(3)\n", "crash", 2, "SystemExit"),
    ("rms_norm = 3\n", "signature", None, "not a function"),
])
def test_bad_learner_files_get_one_message_with_the_line(source, kind, line, words):
    report = grade("rmsnorm", source)
    assert not report.passed
    assert (report.kind, report.line) == (kind, line), report.message
    assert words in report.message


def test_in_place_edits_of_the_inputs_pass_the_values_and_fail_autograd_with_the_line():
    source = RMSNORM.solution.replace("    x32 = x.to(", "    x.mul_(1.0)\n    x32 = x.to(")
    report = grade("rmsnorm", source)  # each case gets its own copy: the oracle never sees the edit
    assert report.failed_test.startswith("gradients") and report.tests == 9
    assert (report.kind, report.line) == ("crash", 5) and "in-place" in report.message


def test_a_detached_output_fails_the_gradient_test():
    source = RMSNORM.solution.replace("return weight * normed.type_as(x)",
                                      "return (weight * normed.type_as(x)).detach()")
    report = grade("rmsnorm", source)
    assert report.kind == "gradient" and "detach" in report.message


def test_bpe_oracle_equals_hf_tokenizers_merges():
    tokenizers = pytest.importorskip("tokenizers")
    from minimind_notes.exercises.catalog.bpe_merges import TEXTS, oracle

    for _, text, n in TEXTS:
        tok = tokenizers.Tokenizer(tokenizers.models.BPE())
        tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
        trainer = tokenizers.trainers.BpeTrainer(
            vocab_size=256 + n, initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        tok.train_from_iterator([text], trainer)
        merges = [tuple(m) for m in json.loads(tok.to_str())["model"]["merges"]]
        assert oracle(text, n) == merges[:n]


def test_readme_lists_every_exercise():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for e in all_exercises():
        assert f"| `{e.name}` | {e.module} |" in readme, e.name


def test_find_exercise_by_prefix_and_errors():
    assert find_exercise("RMS").name == "rmsnorm" and find_exercise("kv-cache").name == "kv_cache"
    with pytest.raises(Exception, match="not an exercise"):
        find_exercise("layernorm")


def test_curriculum_checklists_name_real_exercises():
    curriculum = load_curriculum()
    named = [n for p in curriculum.paths.values() for item in p.checklist if item.rule == "exercises"
             for n in item.value]
    assert {"rmsnorm", "block", "model_forward"} <= set(named) <= set(NAMES)


def test_passes_tick_the_implementation_checklist_items(tmp_path):
    progress = Progress(tmp_path / "progress.json")
    curriculum = load_curriculum()
    items = {r.item.title["en"]: r for r in checklist(curriculum, progress, curriculum.paths["systematic"])
             if r.item.rule == "exercises"}
    assert not any(r.done for r in items.values())
    progress.record_exercise_check("rmsnorm", True)
    progress.record_exercise_check("block", True)
    progress.record_exercise_check("model_forward", False)
    done = {title: r.done for title, r in ((r.item.title["en"], r) for r in
                                           checklist(curriculum, progress, curriculum.paths["systematic"]))}
    assert done[next(t for t in items if "RMSNorm" in t)]
    assert not done[next(t for t in items if "Transformer" in t)]
    progress.record_exercise_check("model_forward", True)
    progress.record_exercise_check("rmsnorm", False)  # a later failing check: passed once is what counts
    results = checklist(curriculum, progress, curriculum.paths["systematic"])
    assert all(r.done for r in results if r.item.rule == "exercises")
    assert progress.exercise("rmsnorm") == {**progress.exercise("rmsnorm"), "passed": False, "passed_once": True,
                                            "checks": 2}


def test_cli_start_list_hint_solution(workspace):
    result = runner.invoke(app, ["exercise", "start", "rope", "--lang", "zh"])
    assert result.exit_code == 0, result.output
    text = (workspace / "minimind-exercises" / "rope.py").read_text(encoding="utf-8")
    assert "def apply_rope(q, k, cos, sin):" in text and "rotate-half" in text and "旋转" in text
    again = runner.invoke(app, ["exercise", "start", "rope"])
    assert again.exit_code == 1 and "already exists" in again.output
    assert (workspace / "minimind-exercises" / "rope.py").read_text(encoding="utf-8") == text
    listed = json.loads(runner.invoke(app, ["exercise", "list", "position", "--json"]).output)
    assert listed == [{"name": "rope", "module": "position-encoding", "minutes": 25, "title": listed[0]["title"],
                       "status": "started"}]
    first, second = (runner.invoke(app, ["exercise", "hint", "rope"]).output for _ in range(2))
    assert "Hint 1/3" in first and "Hint 2/3" not in first and "Hint 2/3" in second
    locked = runner.invoke(app, ["exercise", "solution", "rope"])
    assert locked.exit_code == 1 and "after your first check" in locked.output
    Progress.shared().record_exercise_check("rope", False)
    opened = runner.invoke(app, ["exercise", "solution", "rope"])
    assert opened.exit_code == 0 and "def rotate_half" in opened.output and "model/rope.py" in opened.output


def test_every_exercise_command_has_dash_h():
    for command in ("list", "start", "check", "hint", "solution"):
        result = runner.invoke(app, ["exercise", command, "-h"])
        assert result.exit_code == 0 and "Usage" in result.output, command


def test_cli_check_without_a_file_says_how_to_start(workspace):
    result = runner.invoke(app, ["exercise", "check", "swiglu"])
    assert result.exit_code == 1 and "minimind exercise start swiglu" in result.output


def test_path_offers_the_module_exercises_after_its_experiments(workspace):
    listed = runner.invoke(app, ["path", "systematic", "--dry-run"]).output
    assert "+ rmsnorm" in listed and "+ block, model_forward" in listed
    assert "+ rmsnorm" not in runner.invoke(app, ["path", "systematic", "--dry-run", "--no-exercises"]).output
    from minimind_notes.cli.learn_cmds import offer_exercises

    offer_exercises(Progress.shared(), "attention", "en", interactive=False)  # prints, writes nothing
    assert not (workspace / "minimind-exercises").exists()


@pytest.mark.slow
def test_cli_check_in_a_subprocess_records_the_pass(workspace):
    folder = workspace / "minimind-exercises"
    folder.mkdir()
    (folder / "swiglu.py").write_text(exercise("swiglu").solution)
    result = runner.invoke(app, ["exercise", "check", "swiglu", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["passed"] and report["seconds"] < 60
    assert Progress.shared().exercise("swiglu")["passed_once"] is True
    assert json.loads(runner.invoke(app, ["exercise", "list", "feedforward", "--json"]).output)[0]["status"] == "passed"


@pytest.mark.slow
def test_an_infinite_loop_times_out_naming_the_line(tmp_path):
    from minimind_notes.exercises.runner import check_file

    path = tmp_path / "loop.py"
    path.write_text("import torch\n\n\ndef rms_norm(x, weight, eps=1e-5):\n    while True:\n        x = x + 0\n")
    report = check_file("rmsnorm", path, "en", time_limit=2)
    assert (report.kind, report.line) == ("timeout", 6), report.message
    assert "still running after 2 s in rms_norm() at line 6" in report.message
    assert report.failed_test.startswith("values float32")


@pytest.mark.slow
def test_train_curves_agree_for_the_reference():
    from minimind_notes.exercises.mistakes import solution_namespace
    from minimind_notes.exercises.training import loss_curves

    curves = loss_curves(exercise("swiglu"), solution_namespace(exercise("swiglu")), steps=3)
    assert len(curves.learner) == 3 and curves.agree
    assert curves.reference[-1] < curves.reference[0]
    torch.testing.assert_close(torch.tensor(curves.learner), torch.tensor(curves.reference))
