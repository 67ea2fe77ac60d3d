"""curriculum.yaml as typed dataclasses, validated key by key.

A broken file fails with one message that names the YAML key path and what is wrong,
e.g. `curriculum.yaml: modules[2].experiments[0].file: no such file modules/.../exp9.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minimind_notes.errors import MiniMindError

TIERS = ("foundation", "architecture", "training", "advanced")
STEP_KINDS = ("read", "run", "quiz", "train")
Text = dict[str, str]  # {'en': ..., 'zh': ...}


class CurriculumError(MiniMindError):
    pass


@dataclass
class Experiment:
    id: str
    file: str
    title: Text
    question: Text
    minutes: int
    needs_data: bool = False
    trains: bool = False  # has a training loop (quick mode matters)


@dataclass
class Module:
    id: str
    tier: str
    aliases: list[str]
    title: Text
    question: Text
    minutes: int
    folder: str
    teaching: Text
    code_guide: Text
    experiments: list[Experiment]
    criteria: list[Text]
    quiz: str | None = None

    def path(self, root: Path) -> Path:
        return root / self.folder


@dataclass
class Step:
    kind: str
    module: str | None = None
    experiment: str | None = None  # run steps: one experiment; None = all of the module's
    command: list[str] | None = None  # train steps: the minimind command line to run
    title: Text | None = None


@dataclass
class ChecklistItem:
    """One line of a path's checklist and the recorded fact that ticks it (see checklist.py)."""

    title: Text
    rule: str  # experiments | modules_done | quizzes_passed | trained | own_data | exercises
    value: Any


CHECK_RULES = ("experiments", "modules_done", "quizzes_passed", "trained", "own_data", "exercises")


@dataclass
class LearningPath:
    id: str
    title: Text
    minutes: int
    goal: Text
    steps: list[Step]
    checklist: list[ChecklistItem] = field(default_factory=list)


@dataclass
class Curriculum:
    root: Path
    tiers: dict[str, Text]
    modules: list[Module]
    paths: dict[str, LearningPath] = field(default_factory=dict)

    def module(self, module_id: str) -> Module:
        return next(m for m in self.modules if m.id == module_id)


class _Reader:
    """Reads one YAML mapping, remembering the key path for error messages."""

    def __init__(self, data: Any, where: str, source: str,
                 hint: str = "fix that key in curriculum.yaml (see the other entries for the format)") -> None:
        self.source, self.hint = source, hint
        if not isinstance(data, dict):
            self.fail(where, f"expected a mapping, got {type(data).__name__}")
        self.data, self.where = data, where

    def fail(self, where: str, what: str) -> None:
        raise CurriculumError(f"{self.source}: {where}: {what}", hint=self.hint)

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if name not in self.data:
            if default is ...:
                self.fail(self.key(name), "missing")
            return default
        value = self.data[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            self.fail(self.key(name), f"expected {names}, got {value!r}")
        return value

    def text(self, name: str) -> Text:
        value = self.get(name, (dict, str))
        if isinstance(value, str):
            return {"en": value}
        if "en" not in value or not all(isinstance(v, str) and v for v in value.values()):
            self.fail(self.key(name), "expected {en: ..., zh: ...} with non-empty strings")
        return {str(k): v for k, v in value.items()}

    def items(self, name: str, default: Any = ...) -> list[Any]:
        return self.get(name, list, default)


def _experiment(data: Any, where: str, source: str, folder: Path) -> Experiment:
    r = _Reader(data, where, source)
    exp = Experiment(
        id=r.get("id", str), file=r.get("file", str), title=r.text("title"), question=r.text("question"),
        minutes=r.get("minutes", int), needs_data=r.get("needs_data", bool, False),
        trains=r.get("trains", bool, False))
    if not (folder / exp.file).is_file():
        r.fail(r.key("file"), f"no such file {folder / exp.file}")
    return exp


def _module(data: Any, where: str, source: str, root: Path) -> Module:
    r = _Reader(data, where, source)
    folder = r.get("folder", str)
    if not (root / folder).is_dir():
        r.fail(r.key("folder"), f"no such folder {root / folder}")
    tier = r.get("tier", str)
    if tier not in TIERS:
        r.fail(r.key("tier"), f"{tier!r} is not one of {', '.join(TIERS)}")
    module = Module(
        id=r.get("id", str), tier=tier, aliases=[str(a) for a in r.items("aliases", [])],
        title=r.text("title"), question=r.text("question"), minutes=r.get("minutes", int),
        folder=folder, teaching=r.text("teaching"), code_guide=r.text("code_guide"),
        experiments=[_experiment(e, f"{r.key('experiments')}[{i}]", source, root / folder)
                     for i, e in enumerate(r.items("experiments", []))],
        criteria=[_Reader({"c": c}, f"{r.key('criteria')}[{i}]", source).text("c")
                  for i, c in enumerate(r.items("criteria"))],
        quiz=r.get("quiz", str, None),
    )
    for key in ("teaching", "code_guide"):
        for lang, name in getattr(module, key).items():
            if not (root / folder / name).is_file():
                r.fail(f"{r.key(key)}.{lang}", f"no such file {root / folder / name}")
    if module.quiz and not (root / folder / module.quiz).is_file():
        r.fail(r.key("quiz"), f"no such file {root / folder / module.quiz}")
    return module


def _step(data: Any, where: str, source: str, modules: dict[str, Module]) -> Step:
    r = _Reader(data, where, source)
    kind = r.get("kind", str)
    if kind not in STEP_KINDS:
        r.fail(r.key("kind"), f"{kind!r} is not one of {', '.join(STEP_KINDS)}")
    step = Step(kind=kind, module=r.get("module", str, None), experiment=r.get("experiment", str, None),
                command=r.get("command", list, None),
                title=r.text("title") if "title" in r.data else None)
    if kind == "train":
        if not step.command or not all(isinstance(c, str) for c in step.command):
            r.fail(r.key("command"), "a train step needs a command: a list of strings")
        return step
    if step.module not in modules:
        r.fail(r.key("module"), f"unknown module {step.module!r}")
    module = modules[step.module]
    if step.experiment is not None and step.experiment not in {e.id for e in module.experiments}:
        r.fail(r.key("experiment"), f"module {module.id} has no experiment {step.experiment!r}")
    if kind == "quiz" and not module.quiz:
        r.fail(r.key("module"), f"module {module.id} has no quiz")
    return step


def _check_item(data: Any, where: str, source: str, modules: dict[str, Module]) -> ChecklistItem:
    r = _Reader(data, where, source)
    rules = [k for k in data if k in CHECK_RULES]
    if len(rules) != 1:
        r.fail(where, f"expected exactly one rule key among {', '.join(CHECK_RULES)}")
    rule, value = rules[0], data[rules[0]]
    if rule == "experiments":
        for name in r.items(rule):
            mod, _, exp = str(name).partition("/")
            if mod not in modules or exp not in {e.id for e in modules[mod].experiments}:
                r.fail(r.key(rule), f"unknown experiment {name!r} (write module/experiment)")
    elif rule in ("modules_done", "quizzes_passed"):
        value = r.get(rule, str)
        if value != "all" and value not in TIERS:
            r.fail(r.key(rule), f"expected 'all' or a tier ({', '.join(TIERS)}), got {value!r}")
    elif rule in ("trained", "exercises"):  # exercise names are checked against the registry by its tests
        value = [str(v) for v in r.items(rule)]
    return ChecklistItem(title=r.text("title"), rule=rule, value=value)


def parse_curriculum(data: Any, root: Path, source: str = "curriculum.yaml") -> Curriculum:
    r = _Reader(data, "", source)
    tiers = {}
    for i, t in enumerate(r.items("tiers")):
        tr = _Reader(t, f"tiers[{i}]", source)
        tiers[tr.get("id", str)] = tr.text("title")
    modules = [_module(m, f"modules[{i}]", source, root) for i, m in enumerate(r.items("modules"))]
    seen: dict[str, str] = {}
    for i, m in enumerate(modules):
        for name in [m.id, *m.aliases]:
            if name in seen:
                r.fail(f"modules[{i}]", f"name {name!r} is already used by module {seen[name]}")
            seen[name] = m.id
        if m.tier not in tiers:
            r.fail(f"modules[{i}].tier", f"tier {m.tier!r} is not listed under tiers")
    by_id = {m.id: m for m in modules}
    paths = {}
    raw_paths = r.get("paths", dict)
    for name, p in raw_paths.items():
        pr = _Reader(p, f"paths.{name}", source)
        paths[name] = LearningPath(
            id=name, title=pr.text("title"), minutes=pr.get("minutes", int), goal=pr.text("goal"),
            steps=[_step(s, f"paths.{name}.steps[{i}]", source, by_id)
                   for i, s in enumerate(pr.items("steps"))],
            checklist=[_check_item(c, f"paths.{name}.checklist[{i}]", source, by_id)
                       for i, c in enumerate(pr.items("checklist", []))])
    return Curriculum(root=root, tiers=tiers, modules=modules, paths=paths)


def read_yaml(path: Path, error: type[MiniMindError] = CurriculumError) -> Any:
    """Parse a YAML file; an unreadable or invalid one raises `error` with the line and column."""
    import yaml

    from minimind_notes.data.jsonl import read_text_utf8

    text = read_text_utf8(path, error)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(f"{path.name}: not valid YAML{where}: {getattr(e, 'problem', e)}") from e


def load_curriculum(path: Path | None = None) -> Curriculum:
    from minimind_notes.content import content_root

    path = path or content_root() / "curriculum.yaml"
    return parse_curriculum(read_yaml(path), path.parent, path.name)
