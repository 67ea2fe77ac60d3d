"""ctx.finding's check is declared once (a Bar) and rendered into both languages; code facts stand apart."""

import pytest

from minimind_notes.lab.experiment import Bar, ExperimentContext


def test_a_bar_is_written_once_and_rendered_in_both_languages(tmp_path):
    ctx = ExperimentContext("m", "exp1", out_dir=tmp_path)
    assert ctx.finding("std {s:.3f}", "标准差 {s:.3f}", Bar({"en": "std", "zh": "标准差"}, 0.016, "<", 0.05), s=0.016)
    assert not ctx.finding("rise {r}", "上升 {r}", [Bar("rise", 0.3, ">", 0), Bar("ratio", 2, ">=", 3)], r=0.3)
    first, second = ctx.findings
    assert first.text == {"en": "std 0.016 (check: std 0.016 < 0.05)", "zh": "标准差 0.016(检验:标准差 0.016 < 0.05)"}
    assert second.text["en"].endswith("(check: rise 0.3 > 0, ratio 2 >= 3)") and not second.passed
    assert first.values["bars"][0]["bar"] == 0.05 and first.kind == "measured"


def test_a_bare_bool_is_no_finding_but_may_be_a_code_fact(tmp_path):
    ctx = ExperimentContext("m", "exp1", out_dir=tmp_path)
    for check in (True, 0.016 < 0.05, [], [True]):
        with pytest.raises(TypeError, match="Bar"):
            ctx.finding("std", "标准差", check)
    assert ctx.code_fact("rows sum to 1", "每行和为 1", True)
    assert ctx.code_fact("equal", "相等", Bar("max |diff|", 0.0, "<=", 1e-6))
    assert [f.kind for f in ctx.findings] == ["code", "code"]
    assert ctx.findings[1].text["en"] == "equal (check: max |diff| 0 <= 1e-06)"
