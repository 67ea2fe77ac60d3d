"""The embedded sample corpus: a small invented bilingual world, generated deterministically.

`build_sample(out_dir)` writes pretrain, SFT, DPO, identity (LoRA), RL and exam files in
MiniMind's JSONL formats; the project ships the output of the default seed in `data/`.
Run `python -m tools.corpus data/` from the clone's root to regenerate. Only its output ships:
the package reads data/ and, at run time, the phrasing in minimind_notes/data/phrasing.py.
"""

from tools.corpus.build import build_sample

__all__ = ["build_sample"]
