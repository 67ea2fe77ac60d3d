"""curriculum.yaml: the real file loads; broken copies fail with one message naming the key."""

import copy

import pytest
import yaml

from minimind_notes.curriculum.resolve import find_experiment, find_module
from minimind_notes.curriculum.schema import CurriculumError, load_curriculum, parse_curriculum
from minimind_notes.errors import UsageError

CURRICULUM = load_curriculum()
RAW = yaml.safe_load((CURRICULUM.root / "curriculum.yaml").read_text(encoding="utf-8"))


def test_real_curriculum_loads_with_all_paths():
    assert [m.id for m in CURRICULUM.modules][0] == "normalization"
    assert "quick" in CURRICULUM.paths
    quick = CURRICULUM.paths["quick"]
    assert all(s.kind == "run" for s in quick.steps)
    for m in CURRICULUM.modules:
        assert m.title.get("zh") and m.question.get("zh") and m.criteria
        assert set(m.teaching) == {"en", "zh"} and set(m.code_guide) == {"en", "zh"}


def broken(mutate):
    data = copy.deepcopy(RAW)
    mutate(data)
    with pytest.raises(CurriculumError) as info:
        parse_curriculum(data, CURRICULUM.root)
    return str(info.value)


def test_broken_copies_name_the_key():
    msg = broken(lambda d: d["modules"][0].pop("minutes"))
    assert "modules[0].minutes: missing" in msg
    msg = broken(lambda d: d["modules"][0]["experiments"][0].update(file="experiments/nope.py"))
    assert "modules[0].experiments[0].file: no such file" in msg
    msg = broken(lambda d: d["modules"][0].update(minutes="soon"))
    assert "modules[0].minutes: expected int" in msg
    msg = broken(lambda d: d["paths"]["quick"]["steps"].append({"kind": "run", "module": "nonexistent"}))
    assert "paths.quick.steps[" in msg and "unknown module 'nonexistent'" in msg
    msg = broken(lambda d: d["paths"]["quick"]["steps"].append({"kind": "dance", "module": "normalization"}))
    assert "is not one of read, run, quiz, train" in msg
    msg = broken(lambda d: d["modules"][0].update(tier="basement"))
    assert "modules[0].tier" in msg


def test_invalid_yaml_file(tmp_path):
    bad = tmp_path / "curriculum.yaml"
    bad.write_text("modules: [\n  - id: x\n  oops", encoding="utf-8")
    with pytest.raises(CurriculumError, match="not valid YAML at line"):
        load_curriculum(bad)


@pytest.mark.parametrize("name", ["normalization", "norm", "01", "1", "normal"])
def test_module_names_resolve(name):
    assert find_module(CURRICULUM, name).id == "normalization"


def test_experiment_names_resolve_and_unknown_names_suggest():
    norm = find_module(CURRICULUM, "norm")
    assert find_experiment(norm, "exp1").id == "exp1"
    assert find_experiment(norm, "1").id == "exp1"
    assert find_experiment(norm, "gradient").id == "exp1"
    with pytest.raises(UsageError) as info:
        find_module(CURRICULUM, "normalisation")
    assert "normalization" in str(info.value) and info.value.exit_code == 2
