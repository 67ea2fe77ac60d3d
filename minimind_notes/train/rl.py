"""Reinforcement learning on the shared loop: a reward model, GRPO and PPO.

    reward  Bradley-Terry: -log sigmoid(r(chosen) - r(rejected)), r = a scalar head at the reply's last token
    grpo    a group of replies per prompt, advantage = reward standardised within the group (no critic);
            loss grpo (clipped ratio, asymmetric: 1 - epsilon .. 1 + epsilon_high) or cispo (the clipped
            importance weight, detached, times the log-probability: MiniMax-M1's CISPO as MiniMind writes it)
    ppo     one reply per prompt, a critic (value head), per-token KL penalty in the reward, GAE, clipped
            ratio and clipped value loss, early stop on the KL to the rollout policy

Both RL objectives roll out once and then update several times: every optimizer step of the loop is one
mini-batch of the current rollout (--mini_batch_size), --ppo_update_iters passes over it, so from the
second update on the policy is not the one that sampled and the ratio pi / pi_old leaves 1: that is what
the clip is for. A new rollout is drawn when the last one is used up (or PPO's KL early stop ends it).
A resumed run starts with a fresh rollout.

Tensors over positions are (N, T-1): position t holds log p(ids[t+1] | ids[:t+1]); `mask` is 1 where
ids[t+1] is a reply token (through its <|im_end|>).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from minimind_notes.data.datasets import IGNORE, EpochSampler, RLPrompt, read_rows
from minimind_notes.data.jsonl import DataError
from minimind_notes.errors import MiniMindError
from minimind_notes.evaluate import arithmetic_accuracy, pass_at_1, reward_accuracy, sample_replies
from minimind_notes.model.value_head import ScalarHeadModel
from minimind_notes.train.objectives import EVAL_SAMPLES, Batch, DPOObjective, Objective, group_advantages

# -- the pieces, as functions the tests and the lesson check by hand --------------------------------------


def token_logps(model: nn.Module, ids: torch.Tensor, entropy: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """log p(ids[t+1] | ids[:t+1]) for every position: (B, T-1); with `entropy`, also the entropy of
    each next-token distribution (no gradient: it is only logged)."""
    logprobs = model(ids).logits[:, :-1].float().log_softmax(-1)  # (B, T-1, V)
    logp = torch.gather(logprobs, 2, ids[:, 1:, None]).squeeze(-1)
    if not entropy:
        return logp
    with torch.no_grad():
        ent = -(logprobs.exp() * logprobs).sum(-1)
    return logp, ent


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimate of KL(pi || ref) per sampled token: exp(d) - d - 1 with d = log ref - log pi.
    Never negative (e^d >= 1 + d) and unbiased for tokens sampled from pi."""
    d = ref_logp - logp
    return torch.exp(d) - d - 1


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1)


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over positions, (N, L) each (0 outside the mask):
    delta_t = r_t + gamma * V_{t+1} - V_t,  A_t = delta_t + gamma * lam * A_{t+1},  returns = A + V.
    After a reply's last token V_{t+1} = 0 (the episode ended)."""
    values = values * mask
    advantages = torch.zeros_like(values)
    running = torch.zeros_like(values[:, 0])
    for t in reversed(range(values.shape[1])):
        next_value = values[:, t + 1] if t + 1 < values.shape[1] else torch.zeros_like(running)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = (delta + gamma * lam * running) * mask[:, t]
        advantages[:, t] = running
    return advantages, advantages + values


def ppo_policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
                    clip: float) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate, max(-A r, -A clip(r, 1 - eps, 1 + eps)) averaged over reply tokens, and the
    share of tokens whose ratio is outside the clip range."""
    ratio = torch.exp(logp - old_logp)
    loss = torch.max(-advantages * ratio, -advantages * torch.clamp(ratio, 1 - clip, 1 + clip))
    return masked_mean(loss, mask), masked_mean(((ratio - 1).abs() > clip).float(), mask)


def clipped_value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
                       cliprange: float) -> torch.Tensor:
    """0.5 * max((V - R)^2, (V_clipped - R)^2), V_clipped = V_old + clip(V - V_old, -c, c): a value may not
    gain by moving further than c from its rollout value in one rollout's updates."""
    clipped = old_values + torch.clamp(values - old_values, -cliprange, cliprange)
    return 0.5 * masked_mean(torch.max((values - returns) ** 2, (clipped - returns) ** 2), mask)


def grpo_token_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, kl: torch.Tensor,
                    beta: float, loss_type: str, epsilon: float, epsilon_high: float
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token GRPO (or CISPO) loss with the KL term, (N, L), and where the clip acts (1/0).
    advantages: (N, 1), one per reply."""
    ratio = torch.exp(logp - old_logp)
    if loss_type == "cispo":  # every token keeps a gradient; only its weight is capped
        weight = torch.clamp(ratio, max=epsilon_high).detach()
        return -(weight * advantages * logp - beta * kl), (ratio > epsilon_high).float()
    clipped = torch.clamp(ratio, 1 - epsilon, 1 + epsilon_high)
    surrogate = torch.min(ratio * advantages, clipped * advantages)
    return -(surrogate - beta * kl), ((ratio < 1 - epsilon) | (ratio > 1 + epsilon_high)).float()


def explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> float:
    """1 - Var(R - V) / Var(R) over reply tokens: 1 = the critic predicts the returns, 0 = no better than
    their mean, < 0 = worse."""
    m = mask.bool()
    var = returns[m].var()
    return float(1 - (returns[m] - values[m]).var() / var) if m.sum() > 1 and var > 0 else float("nan")


# -- the reward model --------------------------------------------------------------------------------------


class RewardObjective(DPOObjective):
    """Bradley-Terry on preference pairs: P(chosen > rejected) = sigmoid(r_c - r_r). The backbone starts as
    the SFT model, the scalar head at 0, so every pair starts tied and the loss at ln 2."""

    def prepare_model(self, model: nn.Module) -> nn.Module:
        if self.world > 1:  # the scores come from the head, past DDP's forward, which syncs the gradients
            raise MiniMindError("the reward model trains in one process here", hint="drop --nproc")
        return ScalarHeadModel.from_causal_lm(model)

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float], int]:
        ids, labels = (t.to(self.device) for t in batch)
        scores = pair_scores(model, ids, labels)
        b = ids.shape[0] // 2
        margin = scores[:b] - scores[b:]
        loss = bradley_terry_loss(scores[:b], scores[b:])
        return loss, {"loss": loss.item(), "pair_acc": reward_accuracy(margin.detach()),
                      "margin": margin.mean().item()}, int(ids.numel())

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Held-out pair accuracy (the chosen reply scores higher; a tie counts half) and mean margin."""
        if self.val_data is None:
            return {}
        was_training = model.training
        model.eval()
        margins = []
        for start in range(0, len(self.val_data), self.eval_batch_size):
            idx = list(range(start, min(len(self.val_data), start + self.eval_batch_size)))
            ids, labels = (t.to(self.device) for t in self.val_data.batch(idx))
            scores = pair_scores(model, ids, labels)
            margins.append(scores[:len(idx)] - scores[len(idx):])
        model.train(was_training)
        margin = torch.cat(margins)
        return {"val_pair_acc": reward_accuracy(margin), "val_margin": float(margin.mean()),
                "val_pairs": float(len(margin))}


def bradley_terry_loss(chosen: torch.Tensor, rejected: torch.Tensor) -> torch.Tensor:
    return -F.logsigmoid(chosen - rejected).mean()


def pair_scores(model: nn.Module, ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Each row's score at its last reply token (its <|im_end|>): (B,)."""
    positions = torch.arange(labels.shape[1], device=labels.device)
    last = torch.where(labels != IGNORE, positions, -1).max(1).values
    return raw(model).scores(ids, last)


def raw(model: nn.Module) -> nn.Module:
    """The module inside a DDP or torch.compile wrapper (their forward is only `forward`)."""
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


# -- rollouts ----------------------------------------------------------------------------------------------


@dataclass
class Rollout:
    ids: torch.Tensor  # (N, T) prompt + reply, right-padded
    mask: torch.Tensor  # (N, T-1) 1 where the position predicts a reply token
    old_logp: torch.Tensor  # (N, T-1) under the policy that sampled
    ref_logp: torch.Tensor  # (N, T-1) under the frozen reference
    advantages: torch.Tensor  # (N, T-1) PPO, or (N, 1) GRPO
    rewards: torch.Tensor  # (N,)
    lengths: torch.Tensor  # (N,) reply tokens
    old_values: torch.Tensor | None = None  # PPO: (N, T-1)
    returns: torch.Tensor | None = None  # PPO: (N, T-1)


class RolloutObjective(Objective):
    """What GRPO and PPO share: prompt data in MiniMind's formats, the reward, batched rollouts with the KV
    cache, several updates per rollout, the reference model, and held-out pass@1."""

    samples_per_prompt = 1

    def data_notes(self) -> list[str]:
        bad = self.bad_lines
        notes = [f"skipped {len(bad)} bad line(s) (--skip-bad): {bad[0]}"] if bad else []
        if self.too_long:
            notes.append(f"dropped {self.too_long} prompt(s) longer than max_seq_len {self.cfg.max_seq_len} tokens")
        if self.with_tools:
            notes.append(f"{self.with_tools} row(s) define tools: none runs here, the reply's final answer is scored")
        return notes

    def load_data(self) -> None:
        from minimind_notes.train.rewards import scorer_for

        rows, self.bad_lines = read_rows(self.cfg.data_path, "rl", self.cfg.skip_bad)
        self.prompts, self.too_long = self.tokenized(rows)
        self.with_tools = sum(p.had_tools for p, _ in self.prompts)
        if self.cfg.reward_model_path is None:
            no_answer = next((line for line, p in rows if p.answer is None), None)
            if no_answer is not None:
                raise DataError(f"{self.cfg.data_path}:{no_answer}: the row has no answer for the rule reward "
                                "(\"answer\", or MiniMind's \"gt\")",
                                hint="score the replies with a reward model: --reward_model_path "
                                     "out/reward_<hidden>.safetensors (`minimind train reward`) or a transformers "
                                     "folder")
        val_rows = read_rows(self.cfg.val_path, "rl")[0] if self.cfg.val_path else []
        self.val_prompts = [(ids, p.answer) for p, ids in self.tokenized(val_rows)[0] if p.answer is not None]
        self.sampler = EpochSampler(len(self.prompts), self.cfg.seed)
        # torch.multinomial only takes a generator on its tensors' device ("Expected a 'cuda' device type
        # for generator" otherwise): the rollouts' generator lives on the model's device.
        self.generator = torch.Generator(device=self.device).manual_seed(self.cfg.seed + self.rank)
        self.score = scorer_for(self.cfg.reward_model_path, self.tok, self.device)
        self.queue: list[torch.Tensor] = []  # the mini-batches (row indices) left of the current rollout
        self.rollout: Rollout | None = None

    def tokenized(self, rows: list[tuple[int, RLPrompt]]) -> tuple[list[tuple[RLPrompt, list[int]]], int]:
        """(prompt, its ids up to where the reply begins) for the prompts that fit max_seq_len; how many did not."""
        out = [(p, self.tok.chat_ids(p.messages, add_generation_prompt=True)[0]) for _, p in rows]
        kept = [(p, ids) for p, ids in out if len(ids) <= self.cfg.max_seq_len]
        if out and not kept:
            raise DataError(f"{self.cfg.data_path}: no prompt fits max_seq_len {self.cfg.max_seq_len} tokens",
                            hint="raise --max_seq_len")
        return kept, len(out) - len(kept)

    @property
    def rollout_rows(self) -> int:
        return self.cfg.batch_size * self.samples_per_prompt

    @property
    def mini_batch(self) -> int:
        return min(self.cfg.mini_batch_size or self.rollout_rows, self.rollout_rows)

    @property
    def updates_per_rollout(self) -> int:
        return self.cfg.ppo_update_iters * -(-self.rollout_rows // self.mini_batch)

    @property
    def examples_per_epoch(self) -> int:  # so that the loop's step count is prompts x updates per rollout
        return self.sampler.n * self.updates_per_rollout

    def next_batch(self) -> Batch:
        """The prompts of a new rollout, or None while the current one still has mini-batches to give."""
        return None if self.queue else super().next_batch()

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

    @torch.no_grad()
    def collect(self, model: nn.Module, batch: list[tuple[RLPrompt, list[int]]]) -> Rollout:
        """Sample `samples_per_prompt` replies per prompt (one left-padded batch, KV cache), score them, and
        compute the log-probabilities of the policy that sampled and of the reference."""
        g = self.samples_per_prompt
        prompts = [p for p, _ in batch for _ in range(g)]
        replies = sample_replies(raw(model), self.tok, [ids for _, ids in batch for _ in range(g)],
                                 self.cfg.rollout_temperature, self.cfg.grpo_max_new_tokens, self.generator,
                                 batch_size=len(prompts))
        rewards = torch.tensor(self.score(prompts, replies), dtype=torch.float32, device=self.device)
        rows = [r.prompt_ids + r.tokens for r in replies]
        ids = torch.full((len(rows), max(map(len, rows))), self.tok.pad_token_id, device=self.device)
        mask = torch.zeros(len(rows), ids.shape[1] - 1, device=self.device)
        for i, (row, r) in enumerate(zip(rows, replies, strict=True)):
            ids[i, :len(row)] = torch.tensor(row, device=self.device)
            start = len(r.prompt_ids)
            mask[i, start - 1:start - 1 + len(r.tokens)] = 1  # positions that predict reply tokens
        old_logp = token_logps(model, ids)
        ref_logp = token_logps(self.reference, ids)
        lengths = mask.sum(1)
        return Rollout(ids, mask, old_logp, ref_logp, torch.zeros_like(mask), rewards, lengths)

    def plan(self, rows: int) -> list[torch.Tensor]:
        """ppo_update_iters shuffled passes over the rollout, in mini-batches (the loop's generator: resumable
        with the run's RNG state)."""
        order = [torch.randperm(rows) for _ in range(self.cfg.ppo_update_iters)]
        return [p[i:i + self.mini_batch] for p in order for i in range(0, rows, self.mini_batch)]

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float], int]:
        if batch is not None:
            self.rollout = self.advantages(model, self.collect(model, batch))
            self.queue = self.plan(len(self.rollout.ids))
        r = self.rollout
        idx = self.queue.pop(0).to(self.device)
        loss, logs = self.update_loss(model, r, idx)
        logs |= {"reward": float(r.rewards.mean()), "reward_std": float(r.rewards.std()) if len(r.rewards) > 1 else 0.0,
                 "response_len": float(r.lengths.mean())}
        return loss, logs, int(r.mask[idx].sum())

    def advantages(self, model: nn.Module, r: Rollout) -> Rollout:
        raise NotImplementedError

    def update_loss(self, model: nn.Module, r: Rollout, idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Held-out pass@1: EVAL_SAMPLES replies per prompt sampled at the rollout temperature from a seeded
        generator (DeepSeek-R1's way), with its standard error over prompts; and the greedy reply's accuracy.
        Only rows with an answer count (the rule reward)."""
        if not self.val_prompts:
            return {}
        sampled = arithmetic_accuracy(model, self.tok, self.val_prompts, self.cfg.grpo_max_new_tokens,
                                      self.cfg.rollout_temperature, EVAL_SAMPLES, self.cfg.seed)
        pass1, se = pass_at_1(sampled.rewards, EVAL_SAMPLES)
        greedy = arithmetic_accuracy(model, self.tok, self.val_prompts, self.cfg.grpo_max_new_tokens).share
        return {"val_accuracy": pass1, "val_accuracy_se": se, "val_greedy_accuracy": greedy,
                "val_prompts": float(len(self.val_prompts))}


class GRPOObjective(RolloutObjective):
    """Sample a group of replies per prompt, reward them, and push up the replies that beat their group's
    average (no value model needed)."""

    @property
    def samples_per_prompt(self) -> int:
        return self.cfg.num_generations

    def advantages(self, model: nn.Module, r: Rollout) -> Rollout:
        r.advantages = group_advantages(r.rewards.view(-1), self.cfg.num_generations).view(-1, 1)  # (N, 1)
        return r

    def update_loss(self, model: nn.Module, r: Rollout, idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.cfg
        logp, entropy = token_logps(model, r.ids[idx], entropy=True)
        mask = r.mask[idx]
        kl = k3_kl(logp, r.ref_logp[idx])
        per_token, clipped = grpo_token_loss(logp, r.old_logp[idx], r.advantages[idx], kl, cfg.kl_beta,
                                             cfg.loss_type, cfg.grpo_clip, cfg.epsilon_high)
        loss = ((per_token * mask).sum(1) / mask.sum(1).clamp(min=1)).mean()  # each reply weighs the same
        return loss, {"loss": loss.item(), "kl": masked_mean(kl, mask).item(),
                      "clip_frac": masked_mean(clipped, mask).item(), "entropy": masked_mean(entropy, mask).item(),
                      "approx_kl": masked_mean(0.5 * (logp.detach() - r.old_logp[idx]) ** 2, mask).item()}


class PPOObjective(RolloutObjective):
    """Actor (the policy) and critic. The critic is a separate copy of the SFT model with a value head, as in
    MiniMind's train_ppo.py: sharing the backbone would save its memory and one forward pass, but the value
    loss would then pull on the policy's features (and the two losses would need one shared scale)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.world > 1:
            raise MiniMindError("PPO runs in one process here: its critic is not wrapped for DDP",
                                hint="drop --nproc, or use GRPO (no critic) with --nproc")

    def prepare_model(self, model: nn.Module) -> nn.Module:
        self.critic = ScalarHeadModel.from_causal_lm(model).train()
        return super().prepare_model(model)

    def trainable(self, model: nn.Module) -> list[nn.Parameter]:
        return super().trainable(model) + list(self.critic.parameters())

    def param_groups(self, model: nn.Module) -> list[dict[str, Any]]:
        return [{"params": super().trainable(model)},
                {"params": list(self.critic.parameters()),
                 "lr_scale": self.cfg.critic_learning_rate / self.cfg.learning_rate}]

    def state_dict(self) -> dict[str, Any]:  # the critic resumes with the run
        return {**super().state_dict(), "critic": self.critic.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.critic.load_state_dict(state["critic"])

    @torch.no_grad()
    def advantages(self, model: nn.Module, r: Rollout) -> Rollout:
        cfg = self.cfg
        r.old_values = self.critic.values(r.ids)[:, :-1] * r.mask  # V(prefix through t), before token t+1
        token_rewards = -cfg.kl_coef * (r.old_logp - r.ref_logp) * r.mask  # the per-token KL penalty
        last = (r.mask.cumsum(1) == r.lengths[:, None]) & (r.mask > 0)  # each reply's last token
        token_rewards = token_rewards + last * r.rewards[:, None]
        advantages, r.returns = gae(token_rewards, r.old_values, r.mask, cfg.gamma, cfg.lam)
        mean = masked_mean(advantages, r.mask)
        std = masked_mean((advantages - mean) ** 2, r.mask).sqrt()
        r.advantages = (advantages - mean) / (std + 1e-8) * r.mask  # whitened over the rollout's tokens
        self.explained_var = explained_variance(r.old_values, r.returns, r.mask)
        return r

    def update_loss(self, model: nn.Module, r: Rollout, idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.cfg
        ids, mask = r.ids[idx], r.mask[idx]
        logp, entropy = token_logps(model, ids, entropy=True)
        policy_loss, clip_frac = ppo_policy_loss(logp, r.old_logp[idx], r.advantages[idx], mask, cfg.clip_epsilon)
        values = self.critic.values(ids)[:, :-1]
        value_loss = clipped_value_loss(values, r.old_values[idx], r.returns[idx], mask, cfg.cliprange_value)
        approx_kl = masked_mean(0.5 * (logp.detach() - r.old_logp[idx]) ** 2, mask).item()
        loss = policy_loss + cfg.vf_coef * value_loss
        stop = cfg.early_stop_kl > 0 and approx_kl > cfg.early_stop_kl
        if stop:  # too far from the policy that sampled: this rollout has taught what it can
            self.queue.clear()
            loss = loss * 0.0
        return loss, {"loss": loss.item(), "policy_loss": policy_loss.item(), "value_loss": value_loss.item(),
                      "kl": masked_mean(k3_kl(logp.detach(), r.ref_logp[idx]), mask).item(),
                      "approx_kl": approx_kl, "clip_frac": clip_frac.item(),
                      "entropy": masked_mean(entropy, mask).item(), "explained_var": self.explained_var,
                      "early_stop": float(stop)}


RL_OBJECTIVES = {"grpo": GRPOObjective, "ppo": PPOObjective, "reward": RewardObjective}
