"""Every experiment listed in curriculum.yaml, in quick mode: all of its checks hold."""

import re
from pathlib import Path

import pytest

from minimind_notes.curriculum.schema import load_curriculum
from minimind_notes.lab.experiment import run_experiment

CURRICULUM = load_curriculum()
CASES = [pytest.param(m, e, id=f"{m.id}-{e.id}") for m in CURRICULUM.modules for e in m.experiments]


@pytest.mark.parametrize(("module", "experiment"), CASES)
def test_experiment_checks_hold_in_quick_mode(tmp_path, module, experiment):
    result = run_experiment(module.path(CURRICULUM.root) / experiment.file, module.id, experiment.id,
                            quick=True, seed=42, out_dir=tmp_path)
    failed = [f.text["en"] for f in result.findings if not f.passed]
    assert not failed, failed
    assert len(result.findings) >= 2
    for f in result.findings:  # bilingual, with the measured numbers filled in
        assert f.text["en"] and f.text["zh"] and f.text["en"] != f.text["zh"]
        assert "{" not in f.text["en"] and "{" not in f.text["zh"]
    assert (tmp_path / "metrics.json").is_file()
    assert result.plots and all(Path(p).is_file() for p in result.plots)


SHARED_COMPONENTS = re.compile(
    r"^\s*(class (RMSNorm|Attention|FeedForward|MiniMind\w*)\b|def (precompute_freqs_cis|apply_rotary_pos_emb|"
    r"rotate_half|repeat_kv)\b)", re.MULTILINE)


def test_experiments_import_the_shared_model_instead_of_copying_it():
    for file in sorted(CURRICULUM.root.glob("modules/**/*.py")):
        text = file.read_text(encoding="utf-8")
        assert not SHARED_COMPONENTS.search(text), f"{file} redefines a component of minimind_notes.model"
        if "experiments" in file.parts:
            assert "def run(ctx" in text and "main(__file__)" in text, file
