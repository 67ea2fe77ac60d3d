"""Run by test_train.py under torchrun: train, then every rank saves its own weights."""

import json
import sys

import torch

from minimind_notes.train.config import TrainConfig
from minimind_notes.train.loop import Trainer

cfg = TrainConfig(**json.loads(sys.argv[1]))
trainer = Trainer(cfg, echo=lambda *a: None)
rank = trainer.dist.rank
trainer.run()
torch.save(trainer.model.state_dict(), f"{cfg.save_dir}/rank{rank}.pt")
