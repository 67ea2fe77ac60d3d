"""Quizzes: the question banks' facts against the code, scoring, and `minimind quiz`."""

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from minimind_notes.cli.app import app
from minimind_notes.content import content_root
from minimind_notes.curriculum.progress import Progress
from minimind_notes.curriculum.quiz import QuizError, load_quiz, parse_answer
from minimind_notes.curriculum.quiz_facts import evaluate
from minimind_notes.curriculum.schema import load_curriculum

runner = CliRunner()
CURRICULUM = load_curriculum()
QUIZ_MODULES = [m for m in CURRICULUM.modules if m.quiz]
MIN_CHOICE = {"foundation": 6, "architecture": 6, "training": 5, "advanced": 5}


def headings(path: Path) -> set[str]:
    return {line[3:].strip() for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("## ")}


def test_every_foundation_module_has_a_quiz():
    assert {m.id for m in CURRICULUM.modules if m.tier == "foundation"} <= {m.id for m in QUIZ_MODULES}


@pytest.mark.parametrize("module", QUIZ_MODULES, ids=lambda m: m.id)
def test_question_bank_agrees_with_the_code_and_the_teaching(module):
    root = module.path(CURRICULUM.root)
    bank = load_quiz(root / module.quiz, module.id)
    assert len(bank.questions) >= MIN_CHOICE[module.tier]
    assert any(q.type == "multiple" for q in bank.questions)
    assert {q.kind for q in bank.open} == {"concept", "practice", "code"}
    sections = {lang: headings(root / name) for lang, name in module.teaching.items()}
    for q in bank.questions:
        for lang in ("en", "zh"):  # bilingual, and the section to revisit exists
            assert q.question.get(lang) and q.explanation.get(lang), q.id
            assert all(o.get(lang) for o in q.options), q.id
            assert q.section[lang] in sections[lang], (q.id, q.section[lang])
        for fact in q.facts:
            assert evaluate(fact.fact, fact.args) == fact.value, (q.id, fact)
    for q in bank.open:
        assert q.reference.get("en") and q.reference.get("zh"), q.id


def test_facts_mirror_minimind2():
    assert evaluate("ffn_intermediate_size", {"hidden_size": 512}) == 1408
    assert evaluate("has_weight", {"name": "model.layers.0.post_attention_layernorm.weight"})
    assert not evaluate("has_weight", {"name": "model.layers.0.attention_norm.weight"})
    assert evaluate("param_count", {}) == 25_829_888


def test_parse_answer_exact_sets():
    assert parse_answer("b", "single", "ABCD") == {"B"}
    assert parse_answer("A, c", "multiple", "ABCD") == {"A", "C"}
    for bad in ("", "E", "AB", "AA", "1"):
        assert parse_answer(bad, "single", "ABCD") is None, bad
    assert parse_answer("AA", "multiple", "ABCD") is None


QUIZ = textwrap.dedent("""\
    questions:
      - id: one
        type: single
        question: {en: "Pick B", zh: "选 B"}
        options: [{en: a, zh: 甲}, {en: b, zh: 乙}, {en: c, zh: 丙}, {en: d, zh: 丁}]
        answer: [B]
        explanation: {en: "B it is", zh: "就是乙"}
        section: {en: Part one, zh: 第一部分}
      - id: two
        type: multiple
        question: {en: "Pick A and C", zh: "选 A 和 C"}
        options: [{en: a, zh: 甲}, {en: b, zh: 乙}, {en: c, zh: 丙}]
        answer: [A, C]
        explanation: {en: "both", zh: "两个都选"}
        section: {en: Part two, zh: 第二部分}
    open:
      - id: why
        kind: concept
        question: {en: "Why?", zh: "为什么?"}
        reference: {en: "Because.", zh: "因为。"}
    """)


@pytest.fixture
def content(tmp_path, monkeypatch):
    """A one-module curriculum with a two-question quiz, used through MINIMIND_CONTENT."""
    folder = tmp_path / "content" / "modules" / "demo"
    folder.mkdir(parents=True)
    (folder / "teaching.md").write_text("# Demo\n## Part one\n## Part two\n")
    (folder / "teaching.zh.md").write_text("# 演示\n## 第一部分\n## 第二部分\n")
    (folder / "quiz.yaml").write_text(QUIZ)
    (tmp_path / "content" / "curriculum.yaml").write_text(textwrap.dedent("""\
        tiers: [{id: foundation, title: {en: F, zh: 基}}]
        modules:
          - {id: demo, tier: foundation, title: {en: Demo, zh: 演示}, question: {en: q, zh: 问},
             minutes: 1, folder: modules/demo, teaching: {en: teaching.md, zh: teaching.zh.md},
             code_guide: {en: teaching.md, zh: teaching.zh.md}, criteria: [{en: c, zh: 标}], quiz: quiz.yaml}
        paths:
          systematic:
            title: {en: S, zh: 系}
            minutes: 1
            goal: {en: g, zh: 目}
            steps: [{kind: read, module: demo}, {kind: quiz, module: demo}]
            checklist:
              - {title: {en: All quizzes passed, zh: 测验全部通过}, quizzes_passed: all}
              - {title: {en: Demo done, zh: 演示完成}, modules_done: foundation}
        """))
    monkeypatch.setenv("MINIMIND_CONTENT", str(tmp_path / "content"))
    content_root.cache_clear()
    yield folder
    content_root.cache_clear()


def test_answers_flag_scores_exact_sets_and_records(content):
    result = runner.invoke(app, ["quiz", "demo", "--answers", "B,AC"])
    assert result.exit_code == 0, result.output
    assert "Score: 2/2 (100%)" in result.output and "Passed" in result.output
    assert Progress().quiz("demo")["best"] == 1.0

    result = runner.invoke(app, ["quiz", "demo", "--answers", "B,A"])  # a partial set is wrong
    assert "Score: 1/2 (50%)" in result.output and "Part two" in result.output
    assert Progress().quiz("demo")["missed"] == ["two"]


def test_invalid_input_asks_again_and_open_question_shows_reference(content):
    # E (no such option), empty, AB for a single choice: asked again each time, never a crash.
    result = runner.invoke(app, ["quiz", "demo"], input="E\n\nAB\nb\nca\nmy answer\n\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("Please answer with one letter") == 3
    assert "Score: 2/2" in result.output and "Because." in result.output


def test_review_asks_only_the_missed_question_and_can_pass(content):
    runner.invoke(app, ["quiz", "demo", "--answers", "C,AC"])
    assert Progress().quiz("demo")["best"] == 0.5
    result = runner.invoke(app, ["quiz", "demo", "--review", "--answers", "B"])
    assert result.exit_code == 0, result.output
    assert "Pick A and C" not in result.output and "Score: 1/1" in result.output
    record = Progress().quiz("demo")
    assert record["missed"] == [] and record["best"] == 1.0
    assert "Nothing to review" in runner.invoke(app, ["quiz", "demo", "--review"]).output


def test_chinese_shuffled_and_bad_scripts(content):
    result = runner.invoke(app, ["quiz", "demo", "--lang", "zh", "--shuffle", "--seed", "1", "--no-open"],
                           input="A\nB\nC\nD\nAB\nAC\nBC\n")
    assert "选 B" in result.output and "得分" in result.output
    bad = runner.invoke(app, ["quiz", "demo", "--answers", "B"])
    assert bad.exit_code == 2 and "1 answers for 2 questions" in bad.output
    bad = runner.invoke(app, ["quiz", "demo", "--answers", "Z,AC"])
    assert bad.exit_code == 2 and "'Z' is not a valid answer" in bad.output
    assert "Traceback" not in bad.output


def test_no_module_picks_the_next_unpassed_quiz_then_says_all_done(content):
    assert "Pick B" in runner.invoke(app, ["quiz", "--answers", "B,AC"]).output
    assert "Every quiz" in runner.invoke(app, ["quiz"]).output


def test_progress_checklist_is_ticked_from_recorded_facts(content):
    report = json.loads(runner.invoke(app, ["progress", "--json"]).output)
    assert [i["done"] for i in report["paths"]["systematic"]] == [False, False]
    runner.invoke(app, ["quiz", "demo", "--answers", "B,AC"])
    report = json.loads(runner.invoke(app, ["progress", "--json"]).output)
    assert [i["done"] for i in report["paths"]["systematic"]] == [True, True]  # demo has no experiments
    table = runner.invoke(app, ["progress", "--lang", "zh"]).output
    assert "测验全部通过" in table and "2/2" in table


def test_broken_quiz_file_names_the_key(content):
    (content / "quiz.yaml").write_text(QUIZ.replace("answer: [B]", "answer: [B, C]"))
    result = runner.invoke(app, ["quiz", "demo"])
    assert result.exit_code == 1 and "questions[0].answer: a single-choice question" in result.output
    with pytest.raises(QuizError):
        load_quiz(content / "quiz.yaml", "demo")
