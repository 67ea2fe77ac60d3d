"""The embedded sample corpus: a small invented bilingual world, generated deterministically.

`build_sample(out_dir)` writes pretrain, SFT, DPO, identity (LoRA), RL and exam files in
MiniMind's JSONL formats; the project ships the output of the default seed in `data/`.
Run `python -m minimind_notes.data.sample OUT_DIR` to regenerate.
"""

from minimind_notes.data.sample.build import build_sample

__all__ = ["build_sample"]
