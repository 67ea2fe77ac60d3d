"""What each training stage optimizes. The loop (loop.py) is shared; an objective says
which batches to draw, what the loss is, what to evaluate and which weights to save.

    pretrain  next-token cross-entropy on packed text windows (fused with the lm_head: model/loss.py)
    sft       the same, on assistant tokens only (labels -100 elsewhere)
    lora      SFT loss, but only the low-rank adapters train and are saved
    dpo       -log sigmoid(beta * (policy - reference log-ratio of chosen vs rejected))
    distill   alpha * CE + (1 - alpha) * T^2 * KL(teacher || student) at temperature T

The reinforcement-learning objectives (reward model, GRPO, PPO) are in rl.py.
"""

from __future__ import annotations

import copy
from collections import deque
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from minimind_notes.data.chat_cache import DPODataset, SFTDataset, held_out_rows
from minimind_notes.data.datasets import IGNORE, EpochSampler, TokenWindows
from minimind_notes.data.tokenizer import MiniMindTokenizer
from minimind_notes.evaluate import lm_metrics, pair_logps, reward_accuracy, sequence_logps
from minimind_notes.train.config import TrainConfig

Batch = Any
EVAL_BATCH_SIZE = 16
EVAL_SAMPLES = 8  # GRPO's and PPO's held-out pass@1: replies drawn per prompt


class Objective:
    """Pretraining: the base class; the others change data and loss."""

    def __init__(self, cfg: TrainConfig, tokenizer: MiniMindTokenizer, device: torch.device, rank: int = 0,
                 world: int = 1) -> None:
        self.cfg, self.tok, self.device, self.rank, self.world = cfg, tokenizer, device, rank, world
        self.pool: Any = None  # --num_workers' threads, started with the first batch
        self.ahead: deque[tuple[dict[str, Any], Any]] = deque()  # (data state before it, future batch)
        self.load_data()

    # -- data ----------------------------------------------------------------------------
    def load_data(self) -> None:
        from minimind_notes.data.pretokenize import prepare

        packed = prepare(self.cfg.data_path, self.tok, skip_bad=self.cfg.skip_bad)
        self.train_meta = packed.meta
        tokens, seq = packed.tokens, self.cfg.max_seq_len
        self.held_out, self.val = None, None
        if self.cfg.val_path:
            self.val = TokenWindows(prepare(self.cfg.val_path, self.tok).tokens, seq)
        elif self.cfg.val_path is None:  # only --data_path: the stream's last windows (counted as an SFT file's rows)
            self.held_out = len(held_out_rows((len(tokens) - 1) // seq, self.eval_rows)) or None
            cut = len(tokens) - 1 - (self.held_out or 0) * seq
            self.val = TokenWindows(tokens[cut:], seq) if self.held_out else None
            tokens = tokens[:cut + 1]
        self.train = TokenWindows(tokens, seq, self.cfg.seed)
        self.sampler = self.train.sampler

    @property
    def eval_rows(self) -> int:
        """Rows (windows, pairs) an evaluation reads: a held-out split holds out no more."""
        return self.cfg.eval_batches * self.cfg.batch_size

    @property
    def examples_per_epoch(self) -> int:
        return self.sampler.n

    def next_indices(self) -> list[int]:
        """This rank's share of the next global batch (the same draws on every rank)."""
        indices = self.sampler.take(self.cfg.batch_size * self.world)
        return indices[self.rank * self.cfg.batch_size:(self.rank + 1) * self.cfg.batch_size]

    def next_batch(self) -> Batch:
        """The next batch. With --num_workers N, N threads build the following batches while this one trains:
        the draws are made here, in order, so the batches are the same as without them."""
        if not self.cfg.num_workers:
            return self.make_batch(self.next_indices())
        if self.pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(self.cfg.num_workers, thread_name_prefix="minimind-batches")
        while len(self.ahead) <= self.cfg.num_workers:
            before = self.sampler.state_dict()
            self.ahead.append((before, self.pool.submit(self.make_batch, self.next_indices())))
        return self.ahead.popleft()[1].result()

    def make_batch(self, indices: list[int]) -> Batch:
        ids = self.train.batch(indices)
        return ids, ids

    def data_notes(self) -> list[str]:
        """What the readers skipped, to tell the learner before training starts."""
        skipped = getattr(self, "train_meta", {}).get("skipped_lines", 0)
        notes = [f"skipped {skipped} bad line(s) of {self.cfg.data_path} (--skip-bad)"] if skipped else []
        if getattr(self, "held_out", None):
            notes.append(f"held out the last {self.held_out:,} windows of {self.cfg.max_seq_len} tokens "
                         f"({self.held_out * self.cfg.max_seq_len:,} of {self.train_meta['tokens']:,} tokens) for the "
                         "before/after evaluation (no --val_path)")
        return notes

    def state_dict(self) -> dict[str, Any]:
        """Where the data stands: before the first batch built ahead (--num_workers) but not yet trained on."""
        return self.ahead[0][0] if self.ahead else self.sampler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ahead.clear()
        self.sampler.load_state_dict(state)

    # -- model ---------------------------------------------------------------------------
    def prepare_model(self, model: nn.Module) -> nn.Module:
        return model

    def trainable(self, model: nn.Module) -> list[nn.Parameter]:
        return [p for p in model.parameters() if p.requires_grad]

    def param_groups(self, model: nn.Module) -> list[dict[str, Any]]:
        """The optimizer's groups: each is gradient-clipped on its own, its learning rate the schedule's
        times its "lr_scale" (PPO: the actor and the critic)."""
        return [{"params": self.trainable(model)}]

    def metadata(self) -> dict[str, str]:
        """Extra strings stored in the saved weights file."""
        return {}

    def weights_to_save(self, model: nn.Module) -> dict[str, torch.Tensor] | None:
        return None  # None -> the whole model

    # -- loss and evaluation -----------------------------------------------------------
    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float], int]:
        """(loss to backpropagate, numbers to log, tokens processed)."""
        ids, labels = (t.to(self.device) for t in batch)
        out = model(ids, labels=labels, fused_loss=True)  # no logits: the loss fused with the lm_head
        loss = out.loss + out.aux_loss
        return loss, {"loss": out.loss.item()}, int(ids.numel())

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Held-out loss, perplexity and bits per byte (tokenizer-independent)."""
        if self.val is None:
            return {}
        windows = self.val.all_windows(self.eval_rows)
        return lm_metrics(model, windows, windows, self.tok, self.eval_batch_size, self.device)

    @property
    def eval_batch_size(self) -> int:
        """Forward-only batches can be wider than training ones: fewer, fuller matmuls."""
        return max(self.cfg.batch_size, EVAL_BATCH_SIZE)


class SFTObjective(Objective):
    dataset = SFTDataset

    def data_notes(self) -> list[str]:
        """What preparing the data cut, dropped or skipped, and where the held-out numbers come from."""
        notes = self.data.cache.notes()
        if self.held_out is not None:
            notes.append(f"held out {self.held_out:,} of {self.held_out + len(self.data):,} rows of "
                         f"{Path(self.cfg.data_path).name} (at most 0.5%, evenly spaced) for the before/after "
                         "evaluation (no --val_path)")
        elif self.cfg.val_path is None:
            notes.append(f"no held-out evaluation: {len(self.data)} rows are too few to hold some out "
                         "(give --val_path)")
        return notes

    def load_data(self) -> None:
        self.data = self.dataset(self.cfg.data_path, self.tok, self.cfg.max_seq_len, self.cfg.skip_bad)
        self.held_out, self.val_data = None, None
        if self.cfg.val_path:
            self.val_data = self.dataset(self.cfg.val_path, self.tok, self.cfg.max_seq_len)
        elif self.cfg.val_path is None:  # only --data_path ("" asks for none): a small, fixed share of it
            self.data, self.val_data = self.data.split_held_out(self.eval_rows)
            self.held_out = len(self.val_data) if self.val_data is not None else None
        self.sampler = EpochSampler(len(self.data), self.cfg.seed)

    def make_batch(self, indices: list[int]) -> Batch:
        return self.data.batch(indices)

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float], int]:
        ids, labels = (t.to(self.device) for t in batch)
        out = model(ids, labels=labels, fused_loss=True)
        return out.loss + out.aux_loss, {"loss": out.loss.item()}, int((labels != IGNORE).sum())

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        if self.val_data is None:
            return {}
        n = min(len(self.val_data), self.eval_rows)
        ids, labels = self.val_data.batch(list(range(n)))
        return lm_metrics(model, ids, labels, self.tok, self.eval_batch_size, self.device)


class LoRAObjective(SFTObjective):
    def prepare_model(self, model: nn.Module) -> nn.Module:
        from minimind_notes.model.lora import apply_lora

        apply_lora(model, self.cfg.lora_rank, self.cfg.lora_alpha)
        return model

    def weights_to_save(self, model: nn.Module) -> dict[str, torch.Tensor]:
        from minimind_notes.model.lora import lora_state_dict

        return lora_state_dict(model)

    def metadata(self) -> dict[str, str]:  # chat needs alpha to merge with the trained scale
        return {"lora_rank": str(self.cfg.lora_rank), "lora_alpha": str(self.cfg.lora_alpha)}


class DPOObjective(Objective):
    dataset = DPODataset
    data_notes = SFTObjective.data_notes
    load_data = SFTObjective.load_data

    def make_batch(self, indices: list[int]) -> Batch:
        return self.data.batch(indices)

    def prepare_model(self, model: nn.Module) -> nn.Module:
        self.reference = copy.deepcopy(model).eval().requires_grad_(False)  # frozen starting point
        return model

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float], int]:
        ids, labels = (t.to(self.device) for t in batch)
        policy = sequence_logps(model, ids, labels)
        with torch.no_grad():
            ref = sequence_logps(self.reference, ids, labels)
        loss, margin = dpo_loss(policy, ref, self.cfg.dpo_beta)
        return loss, {"loss": loss.item(), "reward_margin": (self.cfg.dpo_beta * margin.mean()).item(),
                      "reward_acc": reward_accuracy(margin)}, int((labels != IGNORE).sum())

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Two accuracies on held-out pairs (Chen et al. 2024, "Preference Learning Algorithms Do Not
        Learn Preference Rankings", name the pair):
        - val_reward_acc, the preference accuracy of the reward model DPO trains, r = beta * log(pi / pi_ref)
          (TRL logs it as rewards/accuracies): 0.5 at step 0, where pi == pi_ref ties every pair;
        - val_rank_acc, the ranking accuracy: the policy itself finds the chosen reply more likely
          (mean log-prob per token). It starts wherever the SFT model is and DPO rarely moves it far."""
        if self.val_data is None:
            return {}
        lp = pair_logps(model, self.val_data, self.cfg.batch_size)
        ref_lp = pair_logps(self.reference, self.val_data, self.cfg.batch_size)
        margin = (lp[:, 0] - ref_lp[:, 0]) - (lp[:, 1] - ref_lp[:, 1])  # implicit reward gap / beta
        return {"val_reward_acc": reward_accuracy(margin),
                "val_rank_acc": float((lp[:, 0] > lp[:, 1]).float().mean()),
                "val_reward_margin": float(margin.mean()) * self.cfg.dpo_beta}


class DistillObjective(SFTObjective):
    """The student (a smaller model) learns the teacher's full next-token distribution."""

    def __init__(self, cfg: TrainConfig, tokenizer: MiniMindTokenizer, device: torch.device, rank: int = 0,
                 world: int = 1, *, teacher: Path) -> None:
        from minimind_notes.model.checkpoint import load_model

        super().__init__(cfg, tokenizer, device, rank, world)
        self.teacher = load_model(teacher, device=device).eval().requires_grad_(False)

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float], int]:
        ids, labels = (t.to(self.device) for t in batch)
        out = model(ids, labels=labels)  # the plain loss: the KL term needs the student's logits
        with torch.no_grad():
            teacher_logits = self.teacher(ids).logits[:, :-1].float()
        mask = labels[:, 1:] != IGNORE
        temp = self.cfg.distill_temperature
        student = (out.logits[:, :-1].float() / temp).log_softmax(-1)[mask]
        teacher = (teacher_logits / temp).log_softmax(-1)[mask]
        kl = F.kl_div(student, teacher, log_target=True, reduction="batchmean") * temp**2
        alpha = self.cfg.distill_alpha
        loss = alpha * out.loss + (1 - alpha) * kl
        return loss, {"loss": out.loss.item(), "kl": kl.item()}, int(mask.sum())


def dpo_loss(policy: torch.Tensor, ref: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequence log-probs (2B,) of the policy and the frozen reference, the B chosen rows first ->
    (-log sigmoid(beta * margin) averaged over the pairs, the margins (B,))."""
    b = policy.shape[0] // 2
    margin = (policy[:b] - ref[:b]) - (policy[b:] - ref[b:])  # implicit reward margin / beta
    return -F.logsigmoid(beta * margin).mean(), margin


def group_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """GRPO's advantages: each reward (P * G,) minus its group's mean, over the group's std (+1e-4, so that a
    group whose answers all scored the same gets 0, not NaN)."""
    r = rewards.view(-1, group_size)
    return ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-4)).view(-1)


OBJECTIVES = {"pretrain": Objective, "sft": SFTObjective, "lora": LoRAObjective, "dpo": DPOObjective,
              "distill": DistillObjective}  # and train/rl.py's RL_OBJECTIVES: grpo, ppo, reward
