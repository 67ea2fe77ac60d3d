"""What each training stage optimizes. The loop (loop.py) is shared; an objective says
which batches to draw, what the loss is, what to evaluate and which weights to save.

    pretrain  next-token cross-entropy on packed text windows
    sft       the same, on assistant tokens only (labels -100 elsewhere)
    lora      SFT loss, but only the low-rank adapters train and are saved
    dpo       -log sigmoid(beta * (policy - reference log-ratio of chosen vs rejected))
    distill   alpha * CE + (1 - alpha) * T^2 * KL(teacher || student) at temperature T
    grpo      group-relative policy optimization with a checkable reward (arithmetic)
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from minimind_notes.data.chat_cache import DPODataset, SFTDataset, held_out_rows
from minimind_notes.data.datasets import IGNORE, EpochSampler, TokenWindows, read_rows
from minimind_notes.data.tokenizer import MiniMindTokenizer
from minimind_notes.evaluate import (
    arithmetic_accuracy,
    lm_metrics,
    pair_logps,
    reward,
    reward_accuracy,
    sequence_logps,
)
from minimind_notes.train.config import TrainConfig

Batch = Any
EVAL_BATCH_SIZE = 16
EVAL_SAMPLES = 8  # GRPO's held-out accuracy: replies drawn per prompt


class Objective:
    """Pretraining: the base class; the others change data and loss."""

    def __init__(self, cfg: TrainConfig, tokenizer: MiniMindTokenizer, device: torch.device, rank: int = 0,
                 world: int = 1) -> None:
        self.cfg, self.tok, self.device, self.rank, self.world = cfg, tokenizer, device, rank, world
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

    def next_batch(self) -> Batch:
        """This rank's share of the next global batch (the same draws on every rank)."""
        indices = self.sampler.take(self.cfg.batch_size * self.world)
        mine = indices[self.rank * self.cfg.batch_size:(self.rank + 1) * self.cfg.batch_size]
        return self.make_batch(mine)

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

    def state_dict(self) -> dict[str, int]:
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.load_state_dict(state)

    # -- model ---------------------------------------------------------------------------
    def prepare_model(self, model: nn.Module) -> nn.Module:
        return model

    def trainable(self, model: nn.Module) -> list[nn.Parameter]:
        return [p for p in model.parameters() if p.requires_grad]

    def metadata(self) -> dict[str, str]:
        """Extra strings stored in the saved weights file."""
        return {}

    def weights_to_save(self, model: nn.Module) -> dict[str, torch.Tensor] | None:
        return None  # None -> the whole model

    # -- loss and evaluation -----------------------------------------------------------
    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float], int]:
        """(loss to backpropagate, numbers to log, tokens processed)."""
        ids, labels = (t.to(self.device) for t in batch)
        out = model(ids, labels=labels)
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
        out = model(ids, labels=labels)
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
        b = ids.shape[0] // 2
        margin = (policy[:b] - ref[:b]) - (policy[b:] - ref[b:])  # implicit reward margin / beta
        loss = -F.logsigmoid(self.cfg.dpo_beta * margin).mean()
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
        out = model(ids, labels=labels)
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


class GRPOObjective(Objective):
    """Sample a group of answers per arithmetic prompt, reward the correct ones, and push up
    the answers that beat their group's average (no value model needed)."""

    def data_notes(self) -> list[str]:
        bad = self.bad_lines
        return [f"skipped {len(bad)} bad line(s) (--skip-bad): {bad[0]}"] if bad else []

    def load_data(self) -> None:
        rows, self.bad_lines = read_rows(self.cfg.data_path, "prompt", self.cfg.skip_bad)
        self.prompts = [prompt for _, prompt in rows]
        self.val_prompts = [prompt for _, prompt in read_rows(self.cfg.val_path, "prompt")[0]
                            ] if self.cfg.val_path else []
        self.sampler = EpochSampler(len(self.prompts), self.cfg.seed)
        # torch.multinomial only takes a generator on its tensors' device ("Expected a 'cuda' device type
        # for generator" otherwise): the rollouts' generator lives on the model's device.
        self.generator = torch.Generator(device=self.device).manual_seed(self.cfg.seed + self.rank)

    def make_batch(self, indices: list[int]) -> Batch:
        return [self.prompts[i] for i in indices]

    def prepare_model(self, model: nn.Module) -> nn.Module:
        self.reference = copy.deepcopy(model).eval().requires_grad_(False)
        return model

    def state_dict(self) -> dict[str, Any]:
        return {**self.sampler.state_dict(), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sampler.load_state_dict(state)
        if "generator" in state:
            # resume loads with map_location=device; a generator state must be a CPU byte tensor
            self.generator.set_state(state["generator"].cpu())

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float], int]:
        from minimind_notes.model.generation import SamplingConfig, generate

        g = self.cfg.num_generations
        sampling = SamplingConfig(max_new_tokens=self.cfg.grpo_max_new_tokens, temperature=self.cfg.rollout_temperature,
                                  top_p=1.0, eos_token_id=self.tok.eos_token_id, pad_token_id=self.tok.pad_token_id)
        rows, rewards, prompt_lens = [], [], []
        was_training = model.training
        model.eval()
        for prompt, answer in batch:
            p_ids = torch.tensor([self.tok.user_prompt_ids(prompt)] * g, device=self.device)
            out = generate(model, p_ids, cfg=sampling, generator=self.generator)
            for row in out:
                completion = row[p_ids.shape[1]:].tolist()
                rewards.append(reward(self.tok.decode(completion, skip_special_tokens=True), answer))
                rows.append(row.tolist())
                prompt_lens.append(p_ids.shape[1])
        model.train(was_training)
        r = torch.tensor(rewards, dtype=torch.float32, device=self.device).view(-1, g)
        advantages = ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-4)).view(-1)

        width = max(len(x) for x in rows)
        ids = torch.full((len(rows), width), self.tok.pad_token_id, device=self.device)
        mask = torch.zeros(len(rows), width - 1, device=self.device)
        for i, (row, start) in enumerate(zip(rows, prompt_lens, strict=True)):
            ids[i, :len(row)] = torch.tensor(row, device=self.device)
            end = len(row)
            if self.tok.eos_token_id in row[start:]:
                end = start + row[start:].index(self.tok.eos_token_id) + 1
            mask[i, start - 1:end - 1] = 1  # positions that predict completion tokens
        logp = token_logps(model, ids)
        with torch.no_grad():
            ref_logp = token_logps(self.reference, ids)
        ratio = torch.exp(logp - logp.detach())  # one update per sample: old policy == current
        clipped = torch.clamp(ratio, 1 - self.cfg.grpo_clip, 1 + self.cfg.grpo_clip)
        surrogate = torch.min(ratio * advantages[:, None], clipped * advantages[:, None])
        kl = torch.exp(ref_logp - logp) - (ref_logp - logp) - 1  # k3 estimator, >= 0
        per_token = -(surrogate - self.cfg.kl_beta * kl)
        loss = ((per_token * mask).sum(1) / mask.sum(1).clamp(min=1)).mean()
        return loss, {"loss": loss.item(), "reward": float(r.mean()),
                      "kl": ((kl * mask).sum() / mask.sum().clamp(min=1)).item()}, int(mask.sum())

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Held-out accuracy. val_accuracy is what GRPO maximizes, the expected reward of a reply
        sampled as in the rollouts, estimated from EVAL_SAMPLES draws per prompt (pass@1 as
        DeepSeek-R1 reports it, k samples at temperature 0.6); the greedy reply can move differently."""
        if not self.val_prompts:
            return {}
        sampled = arithmetic_accuracy(model, self.tok, self.val_prompts, self.cfg.grpo_max_new_tokens,
                                      self.cfg.rollout_temperature, EVAL_SAMPLES, self.cfg.seed).share
        greedy = arithmetic_accuracy(model, self.tok, self.val_prompts, self.cfg.grpo_max_new_tokens).share
        return {"val_accuracy": sampled, "val_greedy_accuracy": greedy}


def token_logps(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """log p(ids[t+1] | ids[:t+1]) for every position: (B, T-1)."""
    logits = model(ids).logits[:, :-1].float()
    return torch.gather(logits.log_softmax(-1), 2, ids[:, 1:, None]).squeeze(-1)


OBJECTIVES = {"pretrain": Objective, "sft": SFTObjective, "lora": LoRAObjective, "dpo": DPOObjective,
              "distill": DistillObjective, "grpo": GRPOObjective}
