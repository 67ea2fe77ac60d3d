"""The file `minimind exercise start` writes: the solution's imports and exact signatures, each body replaced
by a docstring (in the learner's language) and `raise NotImplementedError`."""

from __future__ import annotations

import ast
import textwrap

from minimind_notes.exercises.spec import Exercise
from minimind_notes.i18n import pick

HEADER = {
    "en": "# Exercise {name}: {title}. Implement the functions below, then run: minimind exercise check {name}\n"
          "# Stuck? minimind exercise hint {name}\n",
    "zh": "# 练习 {name}:{title}。实现下面的函数,然后运行:minimind exercise check {name}\n"
          "# 卡住了?minimind exercise hint {name}\n",
}


def skeleton(exercise: Exercise, lang: str) -> str:
    lines = exercise.solution.splitlines()
    tree = ast.parse(exercise.solution)
    out = [HEADER[lang].format(name=exercise.name, title=pick(exercise.title, lang))]
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    if imports:  # verbatim, blank lines between the groups included
        out.append("\n".join(lines[imports[0].lineno - 1:imports[-1].end_lineno]))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            signature = "\n".join(lines[node.lineno - 1:node.body[0].lineno - 1])
            first, _, rest = pick(exercise.docs[node.name], lang).partition("\n")
            doc = textwrap.indent(f'"""{first}\n{textwrap.dedent(rest)}\n"""', "    ")
            out.append(f"\n\n{signature}\n{doc}\n    raise NotImplementedError(\"not implemented yet\")")
        elif isinstance(node, ast.Assign):  # a constant the signatures use
            out.append(ast.get_source_segment(exercise.solution, node))
    return "\n".join(out).replace("\n\n\n\n", "\n\n\n") + "\n"
