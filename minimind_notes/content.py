"""Where things live: the curriculum (curriculum.yaml, modules/), the embedded data (data/), and the
learner's home (MINIMIND_HOME, default ~/.minimind: progress and the token cache).

From a clone (`pip install -e .`) they are the repository's own folders; from a wheel they
are packaged under `minimind_notes/_content/`. MINIMIND_CONTENT overrides both.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from minimind_notes.errors import MiniMindError


@cache
def content_root() -> Path:
    override = os.environ.get("MINIMIND_CONTENT")
    if override:  # an explicit choice: never fall back to another copy behind the learner's back
        root = Path(override)
        if not (root / "curriculum.yaml").is_file():
            what = ("has no curriculum.yaml" if root.is_dir() else "is not a folder" if root.exists()
                    else "does not exist")
            raise MiniMindError(f"MINIMIND_CONTENT={override}: that path {what}",
                                hint="point MINIMIND_CONTENT at a folder with curriculum.yaml, modules/ and data/, "
                                     "or unset it to use the installed content")
        return root
    package = Path(__file__).resolve().parent
    candidates = [package.parent, package / "_content"]
    for root in candidates:
        if (root / "curriculum.yaml").is_file():
            return root
    raise MiniMindError(
        "cannot find curriculum.yaml (looked in " + ", ".join(str(c) for c in candidates) + ")",
        hint="reinstall the package (pip install -e . from a clone, or pip install minimind-notes)",
    )


def data_dir() -> Path:
    return content_root() / "data"


def home_dir() -> Path:
    return Path(os.environ.get("MINIMIND_HOME") or Path.home() / ".minimind")
