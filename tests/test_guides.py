"""The teaching texts and code guides point into the source as it is: every `minimind_notes/...` path
they name exists, every code block that quotes the source matches it line for line (`...` stands for
what the quote leaves out; a `def` line may drop the type hints), and every example imports names
that exist."""

import importlib
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEXTS = sorted(ROOT.glob("modules/**/*.md")) + sorted(ROOT.glob("modules/**/*.yaml")) + [
    ROOT / "README.md", ROOT / "curriculum.yaml"]
GUIDES = sorted(ROOT.glob("modules/**/code_guide*.md"))
SOURCES = sorted(ROOT.glob("minimind_notes/**/*.py")) + sorted(ROOT.glob("modules/**/*.py"))
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def code(line: str) -> str:
    """A line without its trailing comment, white space folded."""
    if line.lstrip().startswith("#"):
        return ""
    return " ".join(re.sub(r"\s+#\s.*$", "", line).split())


SOURCE_LINES = {code(line) for file in SOURCES for line in file.read_text(encoding="utf-8").splitlines()}
SOURCE_TEXT = "\n".join(sorted(SOURCE_LINES))
DEFINED = set(re.findall(r"^\s*(?:async )?def (\w+)\(", "\n".join(f.read_text(encoding="utf-8") for f in SOURCES),
                         re.M))


def is_example(block: str) -> bool:
    """A block to run (it imports or prints), not a quote of the source."""
    return bool(re.search(r"^(from |import )|print\(", block, re.M))


@pytest.mark.parametrize("text", TEXTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_named_paths_exist(text):
    named = set(re.findall(r"minimind_notes/[\w/.-]*\w", text.read_text(encoding="utf-8")))
    missing = [p for p in sorted(named) if not (ROOT / p).exists() and not (ROOT / f"{p}.py").exists()]
    assert not missing, missing


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: str(p.relative_to(ROOT)))
def test_quoted_code_is_in_the_source(guide):
    stale = []
    for block in BLOCK.findall(guide.read_text(encoding="utf-8")):
        if is_example(block):
            continue
        for line in filter(None, map(code, block.splitlines())):
            defined = re.match(r"(?:async )?def (\w+)\(", line)
            if line == "..." or (defined and defined.group(1) in DEFINED) or line in SOURCE_LINES:
                continue
            elided = "^" + ".*".join(map(re.escape, line.split("..."))) + "$"
            if "..." not in line or not re.search(elided, SOURCE_TEXT, re.M):
                stale.append(line)
    assert not stale, stale


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_import_what_exists(guide):
    for block in filter(is_example, BLOCK.findall(guide.read_text(encoding="utf-8"))):
        for module, names in re.findall(r"^from (minimind_notes[\w.]*) import ([^(\n]+)$", block, re.M):
            imported = importlib.import_module(module)
            for name in (n.strip() for n in names.split(",")):
                assert hasattr(imported, name) or importlib.util.find_spec(f"{module}.{name}"), f"{module}.{name}"
