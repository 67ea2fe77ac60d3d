"""Every experiment listed in curriculum.yaml, in quick mode: all of its checks hold."""

import re
from pathlib import Path

import pytest
import yaml

from minimind_notes.curriculum.schema import load_curriculum
from minimind_notes.lab.experiment import run_experiment

CURRICULUM = load_curriculum()
CASES = [pytest.param(m, e, id=f"{m.id}-{e.id}") for m in CURRICULUM.modules for e in m.experiments]


def quoted_numbers(module) -> list[dict]:
    """The numbers a module's teaching texts quote from its experiments (its measured.yaml)."""
    path = module.path(CURRICULUM.root) / "measured.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else []


def metric_value(metrics: dict, key: str) -> float:
    """metrics['name'] or metrics['name'][i] for key 'name[i]'."""
    name, _, index = key.partition("[")
    value = metrics[name]
    return value[int(index.rstrip("]"))] if index else value


def flat(text: str) -> str:
    return " ".join(text.split())


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
    for quote in quoted_numbers(module):  # what the teaching text says this experiment measures, it measures
        if quote["experiment"] == experiment.id:
            measured = metric_value(result.metrics, quote["metric"])
            assert abs(measured - quote["value"]) <= quote["tolerance"], (quote, measured)


@pytest.mark.parametrize("module", [pytest.param(m, id=m.id) for m in CURRICULUM.modules if quoted_numbers(m)])
def test_quoted_numbers_stand_in_both_teaching_texts(module):
    texts = {lang: flat((module.path(CURRICULUM.root) / name).read_text(encoding="utf-8"))
             for lang, name in module.teaching.items()}
    experiments = {e.id for e in module.experiments}
    for quote in quoted_numbers(module):
        assert quote["experiment"] in experiments, quote
        for lang in ("en", "zh"):
            assert flat(quote[lang]) in texts[lang], (lang, quote[lang])


SHARED_COMPONENTS = re.compile(
    r"^\s*(class (RMSNorm|Attention|FeedForward|MiniMind\w*)\b|def (precompute_freqs_cis|apply_rotary_pos_emb|"
    r"rotate_half|repeat_kv)\b)", re.MULTILINE)


def test_experiments_import_the_shared_model_instead_of_copying_it():
    for file in sorted(CURRICULUM.root.glob("modules/**/*.py")):
        text = file.read_text(encoding="utf-8")
        assert not SHARED_COMPONENTS.search(text), f"{file} redefines a component of minimind_notes.model"
        if "experiments" in file.parts:
            assert "def run(ctx" in text and "main(__file__)" in text, file
