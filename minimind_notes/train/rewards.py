"""What PPO and GRPO maximise: the rule reward (the reply's final number is the row's answer, MiniMind's
RLVR check on agent_rl_math.jsonl) or a learned reward model's score of the whole conversation."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import torch

from minimind_notes.data.datasets import RLPrompt
from minimind_notes.data.tokenizer import MiniMindTokenizer
from minimind_notes.errors import MiniMindError
from minimind_notes.evaluate import Reply, reward


class Scorer(Protocol):
    def __call__(self, prompts: list[RLPrompt], replies: list[Reply]) -> list[float]: ...


def rule_reward(prompts: list[RLPrompt], replies: list[Reply]) -> list[float]:
    return [reward(r.text, p.answer or "") for p, r in zip(prompts, replies, strict=True)]


class RewardModelScorer:
    """A reward model from `minimind train reward`: its score at the reply's last token (<|im_end|> when the
    reply stopped: where the reward model was trained to score)."""

    def __init__(self, path: str | Path, tok: MiniMindTokenizer, device: torch.device) -> None:
        from minimind_notes.chat import check_tokenizer
        from minimind_notes.model.checkpoint import read_metadata
        from minimind_notes.model.value_head import load_scalar_model

        check_tokenizer(Path(path), read_metadata(path), tok)  # it must read the policy's token ids
        self.model, self.device = load_scalar_model(path, device), device

    @torch.no_grad()
    def __call__(self, prompts: list[RLPrompt], replies: list[Reply]) -> list[float]:
        rows = [r.prompt_ids + r.tokens for r in replies]
        width = max(map(len, rows))
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = torch.tensor(row)
        last = torch.tensor([len(row) - 1 for row in rows])
        return self.model.scores(ids.to(self.device), last.to(self.device)).tolist()


class TransformersScorer:
    """A transformers sequence-classification reward model (MiniMind uses internlm2-1_8b-reward): the
    conversation in its own tokenizer's chat template, its first logit. Loaded from a local folder only."""

    def __init__(self, path: str | Path, device: torch.device) -> None:
        try:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError:
            raise MiniMindError(f"--reward_model_path {path} is a transformers folder, and transformers is not "
                                "installed", hint='pip install "minimind-notes[hf]"') from None
        try:
            self.tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            self.model = AutoModelForSequenceClassification.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as e:
            raise MiniMindError(f"cannot load the reward model in {path}: {e}",
                                hint="pass a folder with config.json, the weights and a tokenizer") from None
        self.model.to(device).eval().requires_grad_(False)
        self.device = device

    @torch.no_grad()
    def __call__(self, prompts: list[RLPrompt], replies: list[Reply]) -> list[float]:
        scores = []
        for p, r in zip(prompts, replies, strict=True):
            text = self.tok.apply_chat_template([*p.messages, {"role": "assistant", "content": r.text}],
                                                tokenize=False)
            ids = self.tok(text, return_tensors="pt").input_ids.to(self.device)
            scores.append(float(self.model(ids).logits[0, 0]))
        return scores


def scorer_for(path: str | None, tok: MiniMindTokenizer, device: torch.device) -> Scorer:
    """The rule reward (no path), this project's reward model (a file) or a transformers one (a folder)."""
    if path is None:
        return rule_reward
    p = Path(path)
    if p.is_dir():
        return TransformersScorer(p, device)
    if not p.is_file():
        raise MiniMindError(f"--reward_model_path {path} does not exist",
                            hint="train one with `minimind train reward` (out/reward_<hidden>.safetensors), or "
                                 "pass a transformers sequence-classification folder")
    return RewardModelScorer(p, tok, device)
