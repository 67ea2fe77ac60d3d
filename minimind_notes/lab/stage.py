"""The project's real trainer at lab scale, for experiments about the training stages.

`run_stage("pretrain", ctx.out_dir, precision=ctx.precision, max_steps=60)` trains a small model through the same
`Trainer` that `minimind train` uses (same objectives, data readers, checkpoints), quietly,
with every checkpoint under the experiment's own folder, and hands back the model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from minimind_notes.data.tokenizer import MiniMindTokenizer
from minimind_notes.train.config import TrainConfig
from minimind_notes.train.loop import RunSummary, Trainer

# Small enough for seconds on one CPU core: a step costs ~0.35 s, most of it in the
# 6,400-token output layer (B*T*V*H multiply-adds). Override any field per call.
LAB_DEFAULTS: dict[str, Any] = dict(
    hidden_size=128, num_hidden_layers=2, max_seq_len=128, batch_size=8, device="cpu",
    time_budget=None, eval_every=0, eval_batches=4, save_every=0, log_every=5,
    overwrite=True)  # an experiment run again replaces its own earlier results


@dataclass
class StageRun:
    summary: RunSummary
    model: nn.Module  # the trained model (LoRA adapters still attached for the lora stage), eval mode
    tokenizer: MiniMindTokenizer
    metrics: list[dict[str, float]]  # the rows of the run's metrics.jsonl

    @property
    def losses(self) -> list[tuple[int, float]]:
        """(step, training loss) pairs, every `log_every` steps."""
        return [(int(m["step"]), m["loss"]) for m in self.metrics if "loss" in m]


def lab_config(stage: str, out_dir: str | Path, *, precision: str, **overrides: Any) -> TrainConfig:
    """A TrainConfig for `stage` with the lab defaults, saving under `out_dir`. `precision` has no
    default on purpose: an experiment passes its ctx.precision, so no finding rides on the CPU's bf16."""
    values = {**LAB_DEFAULTS, **overrides}
    return TrainConfig(stage=stage, save_dir=str(out_dir), precision=precision, **values)


def run_stage(stage: str, out_dir: str | Path, *, precision: str, **overrides: Any) -> StageRun:
    """Train one stage with the real trainer; `from_weight` names a stage already run in `out_dir`."""
    trainer = Trainer(lab_config(stage, out_dir, precision=precision, **overrides), echo=lambda text: None)
    summary = trainer.run()
    lines = (Path(summary.run_dir) / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return StageRun(summary, trainer.model.eval(), trainer.tok, [json.loads(line) for line in lines if line])
