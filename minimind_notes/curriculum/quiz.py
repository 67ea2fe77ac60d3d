"""A module's question bank (`quiz.yaml` beside its teaching text), typed and validated.

Format (every text is `{en: ..., zh: ...}`):

    questions:                    # choice questions, asked in this order (or --shuffle)
      - id: rmsnorm-mean          # unique within the file; progress remembers missed ids
        type: single              # single: exactly one answer; multiple: one or more
        question: {en: ..., zh: ...}
        options:                  # shown as A, B, C, ...
          - {en: ..., zh: ...}
        answer: [B]               # the exact set of right letters
        explanation: {en: ..., zh: ...}
        section: {en: The math, zh: 数学形式}   # the teaching heading to revisit when missed
        facts:                    # optional: numbers and names the answer relies on,
          - {fact: ffn_intermediate_size, args: {hidden_size: 512}, value: 1408}
    open:                         # written answers, the reference shown afterwards
      - id: draw-block
        kind: concept             # concept | practice | code
        question: {en: ..., zh: ...}
        reference: {en: ..., zh: ...}

`facts` name functions of `quiz_facts.FACTS`; a test evaluates each one against the code,
so a quiz can never teach a size or a weight name the model does not have.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minimind_notes.curriculum.progress import Progress
from minimind_notes.curriculum.schema import Curriculum, CurriculumError, Module, Text, _Reader, read_yaml
from minimind_notes.errors import UsageError

QUESTION_TYPES = ("single", "multiple")
OPEN_KINDS = ("concept", "practice", "code")
PASS_SHARE = 0.8  # a quiz counts as passed from 80%


class QuizError(CurriculumError):
    pass


@dataclass
class Fact:
    fact: str
    args: dict[str, Any]
    value: Any


@dataclass
class Question:
    id: str
    type: str
    question: Text
    options: list[Text]
    answer: frozenset[str]
    explanation: Text
    section: Text
    facts: list[Fact] = field(default_factory=list)

    @property
    def letters(self) -> str:
        return string.ascii_uppercase[: len(self.options)]

    def is_correct(self, chosen: set[str] | frozenset[str]) -> bool:
        """Only the exact set counts: a partly right multiple-choice answer is wrong."""
        return frozenset(chosen) == self.answer


@dataclass
class OpenQuestion:
    id: str
    kind: str
    question: Text
    reference: Text


@dataclass
class Quiz:
    module: str
    path: Path
    questions: list[Question]
    open: list[OpenQuestion]

    def question(self, qid: str) -> Question:
        return next(q for q in self.questions if q.id == qid)


def parse_answer(text: str, kind: str, letters: str) -> frozenset[str] | None:
    """'b', 'A,C', 'a c', 'AC' -> a set of letters; None when it is not a valid answer to a
    question of this kind (single or multiple) with these option letters."""
    chosen = [c for c in text.upper() if c not in " ,;/"]
    if not chosen or any(c not in letters for c in chosen) or len(set(chosen)) != len(chosen):
        return None
    if kind == "single" and len(chosen) != 1:
        return None
    return frozenset(chosen)


class _QuizReader(_Reader):
    def fail(self, where: str, what: str) -> None:
        raise QuizError(f"{self.source}: {where}: {what}",
                        hint="fix that key in the quiz file (format: minimind_notes/curriculum/quiz.py)")


def _question(data: Any, where: str, source: str) -> Question:
    r = _QuizReader(data, where, source)
    kind = r.get("type", str)
    if kind not in QUESTION_TYPES:
        r.fail(r.key("type"), f"{kind!r} is not one of {', '.join(QUESTION_TYPES)}")
    options = [_QuizReader({"o": o}, f"{r.key('options')}[{i}]", source).text("o")
               for i, o in enumerate(r.items("options"))]
    if not 2 <= len(options) <= 8:
        r.fail(r.key("options"), f"expected 2 to 8 options, got {len(options)}")
    answer = [str(a).upper() for a in r.items("answer")]
    letters = string.ascii_uppercase[: len(options)]
    if not answer or any(a not in letters for a in answer) or len(set(answer)) != len(answer):
        r.fail(r.key("answer"), f"expected distinct letters among {', '.join(letters)}, got {answer}")
    if kind == "single" and len(answer) != 1:
        r.fail(r.key("answer"), "a single-choice question has exactly one answer")
    facts = []
    for i, f in enumerate(r.items("facts", [])):
        fr = _QuizReader(f, f"{r.key('facts')}[{i}]", source)
        facts.append(Fact(fr.get("fact", str), fr.get("args", dict, {}), fr.get("value", object)))
    return Question(id=str(r.get("id", (str, int))), type=kind, question=r.text("question"), options=options,
                    answer=frozenset(answer), explanation=r.text("explanation"), section=r.text("section"),
                    facts=facts)


def _open(data: Any, where: str, source: str) -> OpenQuestion:
    r = _QuizReader(data, where, source)
    kind = r.get("kind", str)
    if kind not in OPEN_KINDS:
        r.fail(r.key("kind"), f"{kind!r} is not one of {', '.join(OPEN_KINDS)}")
    return OpenQuestion(id=str(r.get("id", (str, int))), kind=kind, question=r.text("question"),
                        reference=r.text("reference"))


def load_quiz(path: Path, module: str) -> Quiz:
    source = str(path)
    data = read_yaml(path, QuizError)
    r = _QuizReader(data, "", source)
    questions = [_question(q, f"questions[{i}]", source) for i, q in enumerate(r.items("questions"))]
    opens = [_open(q, f"open[{i}]", source) for i, q in enumerate(r.items("open", []))]
    seen: set[str] = set()
    for i, q in enumerate([*questions, *opens]):
        if q.id in seen:
            r.fail(f"question {i}", f"id {q.id!r} is used twice")
        seen.add(q.id)
    return Quiz(module=module, path=path, questions=questions, open=opens)


# -- taking a quiz ---------------------------------------------------------------------------------
def module_quiz(curriculum: Curriculum, module: Module) -> Quiz:
    """The module's question bank; a module without one is an error naming those that have one."""
    if not module.quiz:
        with_quiz = [m.id for m in curriculum.modules if m.quiz]
        raise UsageError(f"module {module.id} has no quiz yet", hint=f"quizzes exist for: {', '.join(with_quiz)}")
    return load_quiz(module.path(curriculum.root) / module.quiz, module.id)


def questions_to_ask(bank: Quiz, progress: Progress, review: bool) -> list[Question]:
    """Every choice question, or (review) those missed in the last attempt."""
    if not review:
        return list(bank.questions)
    record = progress.quiz(bank.module)
    if not record:
        raise UsageError(f"no earlier attempt of the {bank.module} quiz to review",
                         hint=f"take it first: minimind quiz {bank.module}")
    return [q for q in bank.questions if q.id in set(record["missed"])]


def scripted_answers(answers: str | None, questions: int) -> list[str] | None:
    """--answers A,C,BD as one answer per question, or None when the learner answers in the terminal."""
    if answers is None:
        return None
    if not answers.strip():  # given but empty (an unset shell variable?): never a silent switch to asking
        raise UsageError("--answers is empty",
                         hint="give one answer per question, comma-separated, e.g. --answers A,C,BD")
    scripted = [a.strip() for a in answers.split(",")]
    if len(scripted) != questions:
        raise UsageError(f"--answers has {len(scripted)} answers for {questions} questions",
                         hint="give one answer per question, in the order they are asked, e.g. A,C,BD")
    return scripted


def asking_order(questions: list[Question], shuffle: bool, seed: int | None) -> list[tuple[Question, list[int]]]:
    """Each question with the order its options are shown in: as written, or (shuffle) both shuffled,
    reproducibly for a seed."""
    rng = random.Random(seed)
    questions = list(questions)
    if shuffle:
        rng.shuffle(questions)
    plan = []
    for q in questions:
        order = list(range(len(q.options)))
        if shuffle:
            rng.shuffle(order)
        plan.append((q, order))
    return plan
