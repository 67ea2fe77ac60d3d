"""Every module's step-by-step build (steps.yaml): it loads, every snippet runs, every `real:` exists.

Snippets run in this process (a fresh namespace each, torch seeded, fp32), as `minimind learn MODULE --step N`
runs them.
"""

import importlib
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from minimind_notes.cli.app import app
from minimind_notes.curriculum.schema import CurriculumError, load_curriculum
from minimind_notes.curriculum.steps import STEPS_FILE, load_steps, parse_steps, run_step_code, steps_path
from minimind_notes.errors import MiniMindError

ROOT = Path(__file__).resolve().parents[1]
CURRICULUM = load_curriculum()
# The modules that must have a build. Every module of the curriculum once the builds of the training and
# advanced tiers are merged: then this list equals [m.id for m in CURRICULUM.modules].
MODULES_WITH_STEPS = tuple(m.id for m in CURRICULUM.modules)  # every module builds its mechanism step by step
WITH_STEPS = [m for m in CURRICULUM.modules if steps_path(CURRICULUM, m).is_file()]
SNIPPETS = [(m, i, s) for m in WITH_STEPS for i, s in enumerate(load_steps(CURRICULUM, m), 1)]

runner = CliRunner()


def test_every_listed_module_has_its_build():
    have = {m.id for m in WITH_STEPS}
    assert not [m for m in MODULES_WITH_STEPS if m not in have], f"missing {STEPS_FILE}"
    assert set(MODULES_WITH_STEPS) <= {m.id for m in CURRICULUM.modules}


@pytest.mark.parametrize("module", WITH_STEPS, ids=lambda m: m.id)
def test_build_has_4_to_7_steps_that_end_at_the_real_code(module):
    steps = load_steps(CURRICULUM, module)
    assert 4 <= len(steps) <= 7
    assert steps[-1].real, "the last step compares with the real code"
    for step in steps:
        assert step.title["en"] != step.title["zh"] and step.text["en"] != step.text["zh"]
        assert "Predict" in step.text["en"] and "预测" in step.text["zh"], "ask for a prediction before running"


@pytest.mark.parametrize("module", WITH_STEPS, ids=lambda m: m.id)
def test_teaching_texts_point_to_the_build(module):
    n = len(load_steps(CURRICULUM, module))
    for name in module.teaching.values():
        text = (module.path(CURRICULUM.root) / name).read_text(encoding="utf-8")
        assert f"minimind learn {module.id} --step 1" in text and f"--step {n}" in text, name


@pytest.mark.parametrize("module,number,step", SNIPPETS, ids=[f"{m.id}-{i}" for m, i, _ in SNIPPETS])
def test_snippet_runs(module, number, step, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    start = time.process_time()  # CPU time, which other processes on the machine do not inflate
    run_step_code(step, f"{module.id} step {number}")
    seconds = time.process_time() - start
    out = capsys.readouterr().out
    assert out.strip(), "a step prints what it computed"
    if number == len(load_steps(CURRICULUM, module)):  # its comparison with the real code holds
        assert "False" not in out, out
    assert seconds < 10, f"{seconds:.1f} s of CPU: keep a step under 3 s (the bar leaves room for one-time imports)"
    assert torch.get_default_dtype() == torch.float32
    assert not list(tmp_path.iterdir()), "a step writes no files"
    if step.real:
        assert (ROOT / step.real_file).is_file(), step.real
        obj = importlib.import_module(step.real_file.removesuffix(".py").replace("/", "."))
        for part in step.real_attribute.split("."):
            obj = getattr(obj, part)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIMIND_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MINIMIND_LANG", raising=False)


def test_learn_step_shows_text_code_and_output(home):
    result = runner.invoke(app, ["learn", "norm", "--step", "1"])
    assert result.exit_code == 0, result.output
    assert "Predict" in result.output and "x.pow(2)" in result.output and "rms after" in result.output
    zh = runner.invoke(app, ["learn", "norm", "--step", "1", "--lang", "zh"])
    assert zh.exit_code == 0 and "先预测" in zh.output
    after = runner.invoke(app, ["learn", "norm", "--step", "2"]).output  # its `after:` follows the output
    assert after.index("rms of each row with eps") < after.index("Your prediction and the output")
    listed = runner.invoke(app, ["learn", "norm", "--steps"])
    assert listed.exit_code == 0 and "The real RMSNorm" in listed.output and "--step N" in listed.output


@pytest.mark.parametrize("args,message", [
    (["learn", "norm", "--step", "0"], "has steps 1 to"),
    (["learn", "norm", "--step", "99"], "has steps 1 to"),
    (["learn", "norm", "--step", "1", "--code"], "only one of"),
])
def test_learn_step_out_of_range_is_one_message(args, message, home):
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("data,where", [
    ({}, "steps: missing"),
    ({"steps": []}, "steps: expected at least one step"),
    ({"steps": [{"title": {"en": "a"}, "text": {"en": "b", "zh": "c"}, "code": "x = 1"}]},
     "steps[0].title: missing the zh text"),
    ({"steps": [{"title": {"en": "a", "zh": "b"}, "text": {"en": "b", "zh": "c"}, "code": "x = (1"}]},
     "steps[0].code: not valid Python at line 1"),
    ({"steps": [{"title": {"en": "a", "zh": "b"}, "text": {"en": "b", "zh": "c"}, "code": "x = 1",
                 "real": "model.py"}]}, "steps[0].real: expected path/to/file.py:name"),
])
def test_a_broken_steps_file_names_the_key(data, where):
    with pytest.raises(CurriculumError) as info:
        parse_steps(data, "mod/steps.yaml")
    assert f"mod/steps.yaml: {where}" in str(info.value)


def test_a_failing_snippet_names_its_line():
    [step] = parse_steps({"steps": [{"title": {"en": "a", "zh": "b"}, "text": {"en": "b", "zh": "c"},
                                     "code": "x = 1\ny = x / 0\n"}]}, "mod/steps.yaml")
    with pytest.raises(MiniMindError, match="mod step 1 failed at line 2: ZeroDivisionError"):
        run_step_code(step, "mod step 1")
