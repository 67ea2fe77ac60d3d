"""MiniMindConfig: every size and switch of the model, with MiniMind's field names.

One dataclass describes both generations. Defaults are MiniMind2-small (hidden 512, 8 layers,
~26M parameters), so configs saved before minimind-3 load unchanged. `preset()` gives the named
sizes, among them `minimind-3` and `minimind-3-moe`; `tiny` is small enough to train for real
on a 2-core laptop CPU.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

INTERMEDIATE_SIZE_RULES = ("8/3", "pi")
YARN_VARIANTS = ("minimind2", "standard")


def default_intermediate_size(hidden_size: int, rule: str = "8/3") -> int:
    """SwiGLU width, rounded up to a multiple of 64.

    "8/3" (MiniMind2): 8/3 of hidden, 1408 for 512, 2048 for 768. Three matrices of that width hold
    as many parameters as a classic 4h two-matrix FFN; the rounding adds a little (3% at 512).
    "pi" (minimind-3): pi times hidden, 2432 for 768, a wider FFN for a shallower model.
    """
    if rule == "pi":
        return 64 * math.ceil(hidden_size * math.pi / 64)
    return 64 * math.ceil(int(hidden_size * 8 / 3) / 64)


@dataclass
class MiniMindConfig:
    hidden_size: int = 512
    num_hidden_layers: int = 8
    num_attention_heads: int = 8
    num_key_value_heads: int = 2
    head_dim: int | None = None  # None -> hidden_size // num_attention_heads
    qk_norm: bool = False  # minimind-3: RMSNorm over each head of q and of k, before RoPE
    vocab_size: int = 6400
    intermediate_size: int | None = None  # None -> default_intermediate_size(hidden_size, rule)
    intermediate_size_rule: str = "8/3"  # "8/3" (MiniMind2) or "pi" (minimind-3)
    max_position_embeddings: int = 32768
    rms_norm_eps: float = 1e-5
    rope_theta: float = 1e6
    dropout: float = 0.0
    hidden_act: str = "silu"
    flash_attn: bool = True  # use F.scaled_dot_product_attention; False -> the explicit path
    # YaRN: rotate the slow RoPE pairs slower at inference, for contexts beyond the trained length.
    inference_rope_scaling: bool = False
    yarn_variant: str = "minimind2"  # "minimind2" (its simplified ramp) or "standard" (paper, transformers)
    yarn_factor: float = 4.0
    yarn_original_max_position_embeddings: int = 2048
    yarn_beta_fast: float = 4.0
    yarn_beta_slow: float = 1.0
    yarn_attention_factor: float = 1.0  # scales cos and sin (1.0: no attention temperature)
    bos_token_id: int = 1
    eos_token_id: int = 2
    pad_token_id: int = 0
    tie_word_embeddings: bool = True
    # Mixture of experts: a router picks num_experts_per_tok of n_routed_experts per token; shared
    # experts (DeepSeek-MoE style, MiniMind2) see every token, minimind-3 has none.
    use_moe: bool = False
    num_experts_per_tok: int = 2
    n_routed_experts: int = 4
    n_shared_experts: int = 1
    scoring_func: str = "softmax"
    aux_loss_alpha: float = 0.1
    seq_aux: bool = True
    norm_topk_prob: bool = True  # rescale the k routing weights to sum to 1 ...
    norm_top1_prob: bool = False  # ... also when k = 1 (minimind-3, Qwen3-MoE): the one weight is then 1.0
    rope_scaling: dict[str, Any] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.intermediate_size_rule not in INTERMEDIATE_SIZE_RULES:
            raise ValueError(f"intermediate_size_rule {self.intermediate_size_rule!r} is not one of "
                             f"{', '.join(INTERMEDIATE_SIZE_RULES)}")
        if self.yarn_variant not in YARN_VARIANTS:
            raise ValueError(f"yarn_variant {self.yarn_variant!r} is not one of {', '.join(YARN_VARIANTS)}")
        if self.intermediate_size is None:
            self.intermediate_size = default_intermediate_size(self.hidden_size, self.intermediate_size_rule)
        if self.head_dim is None:
            if self.hidden_size % self.num_attention_heads:
                raise ValueError(
                    f"hidden_size {self.hidden_size} is not divisible by "
                    f"num_attention_heads {self.num_attention_heads} (or give head_dim)"
                )
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"num_attention_heads {self.num_attention_heads} is not a multiple of "
                f"num_key_value_heads {self.num_key_value_heads}"
            )
        if self.scoring_func != "softmax":
            raise ValueError(f"scoring_func {self.scoring_func!r} is not supported (only 'softmax')")
        self.rope_scaling = (
            {"type": "yarn", "variant": self.yarn_variant, "factor": self.yarn_factor,
             "original_max_position_embeddings": self.yarn_original_max_position_embeddings,
             "beta_fast": self.yarn_beta_fast, "beta_slow": self.yarn_beta_slow,
             "attention_factor": self.yarn_attention_factor}
            if self.inference_rope_scaling else None
        )

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("rope_scaling")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MiniMindConfig:
        """Unknown keys are ignored; missing ones take the defaults (a config saved before minimind-3
        existed is a MiniMind2 config, and its defaults are MiniMind2's)."""
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        return cls(**{k: v for k, v in d.items() if k in names})

    def replace(self, **changes: Any) -> MiniMindConfig:
        d = self.to_dict()
        if "hidden_size" in changes and "intermediate_size" not in changes:
            d["intermediate_size"] = None  # recompute for the new width
        derived_head_dim = self.head_dim == self.hidden_size // self.num_attention_heads
        if derived_head_dim and "head_dim" not in changes and {"hidden_size", "num_attention_heads"} & set(changes):
            d["head_dim"] = None  # a head_dim that followed hidden / heads keeps following it
        d.update(changes)
        return MiniMindConfig.from_dict(d)


# What sets minimind-3 apart beyond sizes: fields that shapes do not show (load_model adds them when a
# checkpoint has q_norm, the mark of minimind-3).
MINIMIND3: dict[str, Any] = dict(
    qk_norm=True, intermediate_size_rule="pi", rms_norm_eps=1e-6, yarn_variant="standard", yarn_factor=16.0,
    yarn_original_max_position_embeddings=2048, yarn_beta_fast=32.0, yarn_beta_slow=1.0,
    yarn_attention_factor=1.0,
)
# minimind-3's MoE: top-1 of 4, no shared expert, the weight renormalised to 1.0, Switch-style aux loss.
MINIMIND3_MOE: dict[str, Any] = dict(
    use_moe=True, n_routed_experts=4, num_experts_per_tok=1, n_shared_experts=0, norm_topk_prob=True,
    norm_top1_prob=True, aux_loss_alpha=5e-4, seq_aux=False,
)

PRESETS: dict[str, dict[str, Any]] = {
    # Trains on a 2-core CPU in minutes: 2.0M parameters, 1.23M of them the embedding. At this
    # compute (~2.4M tokens in 9 minutes) a smaller model learns more. Hidden 192 reached held-out
    # ppl 5.1 where hidden 256 (4.46M) reached 8.4 in the same 540 s of pretraining. Depth at hidden
    # 192, batch 4, lr 3e-3, the 550 s default: 2 layers reached ppl 2.76 (its 4 epochs ended at
    # 492 s), 3 layers 3.06, 4 layers 3.25; in 270 s 6 layers were far behind (loss 2.07 vs 1.59).
    "tiny": dict(hidden_size=192, num_hidden_layers=2, max_position_embeddings=4096),
    "minimind2-small": dict(hidden_size=512, num_hidden_layers=8),  # 25.8M
    "minimind2": dict(hidden_size=768, num_hidden_layers=16),  # 104M
    "minimind2-moe": dict(hidden_size=640, num_hidden_layers=8, use_moe=True),  # 145M
    "minimind-3": dict(hidden_size=768, num_hidden_layers=8, num_key_value_heads=4, **MINIMIND3),  # 63.9M
    "minimind-3-moe": dict(hidden_size=768, num_hidden_layers=8, num_key_value_heads=4,
                           **MINIMIND3, **MINIMIND3_MOE),  # 198.4M
}


def preset(name: str, **overrides: Any) -> MiniMindConfig:
    """A named size (`tiny`, `minimind2-small`, `minimind2`, `minimind2-moe`, `minimind-3`,
    `minimind-3-moe`) with overrides."""
    if name not in PRESETS:
        from minimind_notes.errors import UsageError

        raise UsageError(f"unknown preset {name!r}", hint=f"choose one of {', '.join(PRESETS)}")
    return MiniMindConfig(**{**PRESETS[name], **overrides})
