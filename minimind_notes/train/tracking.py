"""--use_wandb: the run's metrics rows also go to wandb (MiniMind's flag), offline unless an API key is set."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from minimind_notes.errors import MiniMindError


def wandb_module() -> Any:
    """wandb, or the message that says how to get it."""
    try:
        import wandb
    except ImportError:
        raise MiniMindError("--use_wandb: wandb is not installed",
                            hint="pip install wandb (the extra minimind-notes[wandb]; it logs offline with no network "
                                 "or an API key), or drop --use_wandb: metrics.jsonl in the run folder has the same "
                                 "numbers") from None
    return wandb


class WandbTracker:
    """One wandb run per training run; --resume continues the same wandb run (its id is kept in the run folder)."""

    def __init__(self, project: str, name: str, config: dict[str, Any], run_dir: Path) -> None:
        wandb = wandb_module()
        # Without a key wandb would ask for one; offline it writes the run under run_dir (`wandb sync` uploads it).
        offline = not os.environ.get("WANDB_API_KEY") and "WANDB_MODE" not in os.environ
        id_file = run_dir / "wandb_id"
        run_id = id_file.read_text(encoding="utf-8").strip() if id_file.is_file() else None
        self.run = wandb.init(project=project, name=name, config=config, dir=str(run_dir), id=run_id,
                              resume="allow" if run_id else None, mode="offline" if offline else None)
        if run_id is None and getattr(self.run, "id", None):
            from minimind_notes.fileio import atomic_write_text

            atomic_write_text(id_file, str(self.run.id))

    def log(self, values: dict[str, float], step: int) -> None:
        self.run.log(values, step=step)

    def finish(self) -> None:
        self.run.finish()
