"""A MiniMind with a scalar head: the reward model (one score per reply, read at its last token) and
PPO's critic (one value per position), as MiniMind's CriticModel and LMForRewardModel are built.

The head reads the final normed hidden state, the one `lm_head` reads: value_head(h_t) is (B, T).
The causal LM stays whole (its forward still gives logits), so a reward or critic checkpoint starts
from the SFT weights with only the head new.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from minimind_notes.model.config import MiniMindConfig
from minimind_notes.model.model import MiniMindForCausalLM


class ScalarHeadModel(MiniMindForCausalLM):
    def __init__(self, config: MiniMindConfig | None = None) -> None:
        super().__init__(config)
        self.value_head = nn.Linear(self.config.hidden_size, 1)
        nn.init.zeros_(self.value_head.weight)  # every score starts at 0: the BT loss starts at ln 2
        nn.init.zeros_(self.value_head.bias)

    @classmethod
    def from_causal_lm(cls, lm: MiniMindForCausalLM) -> ScalarHeadModel:
        """The same weights plus a fresh head (zero: every score starts equal)."""
        model = cls(lm.config)
        model.load_state_dict(lm.state_dict(), strict=False)  # only value_head.* is missing
        return model.to(next(lm.parameters()).device)

    def values(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """One scalar per position, (B, T): the value of the prefix ending there."""
        hidden = self.model(input_ids, attention_mask)[0]  # (B, T, C), normed
        return self.value_head(hidden).squeeze(-1).float()

    def scores(self, input_ids: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        """The score of each row at its last real token (index `last`, (B,)): (B,). Right padding after it
        changes nothing (causal attention)."""
        return self.values(input_ids).gather(1, last[:, None]).squeeze(1)


def load_scalar_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> ScalarHeadModel:
    """A reward model saved by `minimind train reward` (its config in the file's metadata)."""
    from minimind_notes.errors import MiniMindError
    from minimind_notes.model.checkpoint import infer_config, load_weights, read_config, read_state_dict

    state = read_state_dict(path)
    if "value_head.weight" not in state:
        raise MiniMindError(f"{path} has no value_head: it is a language model, not a reward model",
                            hint="train one with `minimind train reward` and pass out/reward_<hidden>.safetensors")
    config = read_config(path) or MiniMindConfig(**infer_config(state))
    model = ScalarHeadModel(config)
    load_weights(model, state, what=f"reward model {path}")
    return model.to(device).eval().requires_grad_(False)
