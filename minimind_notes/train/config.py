"""TrainConfig: every knob of a training run, with defaults that finish on a laptop CPU, and
OPTIONS, the one declaration (field, help, range, flags) that both its checks and the
`minimind train` command are generated from.

Field names follow MiniMind's scripts (batch_size, learning_rate, accumulation_steps,
max_seq_len, from_weight, ...) and are the command's flags, so the seed's commands work unchanged.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

STAGES = ("pretrain", "sft", "lora", "dpo", "distill", "grpo", "reward", "ppo")
# The checkpoint name each stage writes (MiniMind's names: pretrain_512, full_sft_512, ...).
SAVE_NAMES = {"pretrain": "pretrain", "sft": "full_sft", "lora": "lora", "dpo": "dpo",
              "distill": "distill", "grpo": "grpo", "reward": "reward", "ppo": "ppo_actor"}


SEED_MAX = 2**32 - 1  # numpy's limit (np.random.seed), the strictest of the generators a seed reaches
EVAL_ROWS = 320  # held-out windows (or conversations) per evaluation unless eval_batches is given
EVAL_EVERY_ROWS = 1600  # training rows between evaluations when eval_every is None


@dataclass
class StageDefaults:
    data: str  # file in the embedded data/ folder
    val: str | None
    from_weight: str | None
    learning_rate: float
    batch_size: int
    max_seq_len: int
    epochs: int
    time_budget: float | None  # seconds; the LR schedule follows whichever ends first


DEFAULTS = {
    # Small batches win on a CPU at a fixed time budget: in 270 s (4-layer tiny), batch 16 / lr 2e-3 reached held-out
    # loss 3.56, batch 8 / lr 3e-3 2.46, batch 4 / lr 3e-3 1.59 (batch 2: 1.63, fewer tokens/s).
    "pretrain": StageDefaults("pretrain.jsonl", "pretrain_val.jsonl", None, 3e-3, 4, 256, 4, 550),
    # 2 epochs from the pretrained tiny model: batch 8 / lr 1e-3 reached held-out loss 2.00 in 208 s,
    # batch 16 / lr 5e-4 2.04 in 237 s.
    "sft": StageDefaults("sft.jsonl", "sft_val.jsonl", "pretrain", 1e-3, 8, 256, 2, 240),
    # From the 2-layer SFT model: 20 epochs (53 s) left "who are you?" garbled and the identity held-out
    # loss at 2.68; 40 epochs (112 s) answer cleanly in English. At lr 2e-3 (held-out 2.19) "你是谁?" with chat's
    # default sampling came out clean in none of 5 seeds (stray fragments: "是irre minimind-notes", one broken
    # character, also greedily); at 5e-3 (2.07) and 1e-2 (2.02) all 5 were clean. The budget is a cap for slow
    # machines, not the plan: cut at 117 of its 820 steps (a busy CPU), the identity answers failed.
    "lora": StageDefaults("lora_identity.jsonl", "lora_identity_val.jsonl", "full_sft", 5e-3, 8, 256, 40,
                          300),
    # From the 2-layer SFT model, held-out reward accuracy (160 pairs): lr 1e-4 x 1 epoch 0.61; 3e-4 x 2 epochs
    # 0.63, 0.64, 0.65 (seeds 42, 1, 2), ranking accuracy 0.73 -> 0.71-0.73; 1e-4 x 5 epochs 0.64 in twice the time.
    "dpo": StageDefaults("dpo.jsonl", "dpo_val.jsonl", "full_sft", 3e-4, 8, 256, 2, 180),
    "distill": StageDefaults("sft.jsonl", "sft_val.jsonl", None, 2e-3, 16, 256, 1, 180),
    # From the 4-minute SFT model (greedy accuracy 0.11), 240 s of groups of 8 at temperature 0.6:
    # lr 1e-4 lifted held-out accuracy to 0.16; 5e-4 drifted (KL 2.4) and fell to 0.05; 5e-6 did nothing.
    "grpo": StageDefaults("rl_arithmetic.jsonl", "rl_arithmetic_val.jsonl", "full_sft", 1e-4, 4, 64, 1,
                          240),
    # The reward model (SFT backbone + scalar head) on the DPO pairs; PPO: 16 prompts, one reply each, per rollout
    # (as MiniMind's train_ppo.py samples), so a PPO rollout costs half a GRPO one (4 prompts x 8).
    "reward": StageDefaults("dpo.jsonl", "dpo_val.jsonl", "full_sft", 3e-4, 8, 256, 2, 180),
    "ppo": StageDefaults("rl_arithmetic.jsonl", "rl_arithmetic_val.jsonl", "full_sft", 1e-4, 16, 64, 1, 240),
}


@dataclass
class TrainConfig:
    stage: str = "pretrain"
    data_path: str | None = None  # None -> the embedded default for the stage
    val_path: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    accumulation_steps: int = 1
    max_seq_len: int | None = None
    grad_clip: float = 1.0
    warmup_steps: int = 20
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.01
    preset: str | None = None  # None -> "auto" for pretraining your own data in a time budget, else "tiny"
    hidden_size: int | None = None
    num_hidden_layers: int | None = None
    use_moe: bool = False
    from_weight: str | None = "default"  # 'default' -> the stage's usual predecessor; 'none' -> scratch
    save_dir: str = "out"
    tokenizer: str | None = None
    max_steps: int | None = None
    time_budget: float | None = -1  # -1 -> the stage default; None/0 -> no limit
    eval_every: int | None = None  # None -> every EVAL_EVERY_ROWS training rows, whatever the batch size
    save_every: int = 100
    log_every: int = 10
    eval_batches: int | None = None  # None -> ~320 held-out rows, so runs with other batch sizes compare
    seed: int = 42
    device: str = "auto"
    precision: str | None = None  # auto | fp32 | bf16; None -> $MINIMIND_PRECISION, else auto
    compile: bool = False
    resume: bool = False  # continue the run saved under save_dir/runs/<run_name>
    overwrite: bool = False  # replace an earlier run of the same name instead of refusing
    skip_bad: bool = False
    run_name: str | None = None  # the weights' name prefix (MiniMind's --save_weight); default: the stage's
    quick: bool = False  # a smoke run: 20 steps (or --max-steps), no time budget, 4 evaluation batches
    # stage-specific
    lora_rank: int = 8
    lora_alpha: float | None = None  # None -> 2 x lora_rank (MiniMind's 16 at rank 8)
    dpo_beta: float = 0.1
    distill_temperature: float = 2.0
    distill_alpha: float = 0.5  # weight of the CE term; (1 - alpha) for the KL to the teacher
    teacher_weight: str = "full_sft"
    num_generations: int = 8  # GRPO's group, samples per prompt: with 4, a weak base often gets no correct one
    kl_beta: float = 0.04
    grpo_clip: float = 0.2
    grpo_max_new_tokens: int = 16
    rollout_temperature: float = 0.6  # at 1.0 a weak base samples almost no correct answer
    # MiniMind's trainer flags that have no older spelling here (the others are aliases in OPTIONS)
    from_resume: bool = False  # resume when a saved state exists, else start afresh (MiniMind's auto-detect)
    use_wandb: bool = False
    wandb_project: str | None = None  # None -> MiniMind's name, e.g. MiniMind-Pretrain
    num_workers: int = 0
    lora_name: str | None = None  # LoRA's weights name (MiniMind's --lora_name); default: the stage's
    beta: float | None = None  # MiniMind's --beta: DPO's beta in dpo, the KL weight in grpo
    teacher_hidden_size: int | None = None  # distillation: the teacher's shape, to find and check its weights
    teacher_num_layers: int | None = None
    teacher_use_moe: bool = False
    # reinforcement learning: PPO, and the GRPO options it shares (MiniMind's train_ppo.py / train_grpo.py names)
    reward_model_path: str | None = None  # None -> the rule reward (the row's answer)
    ppo_update_iters: int | None = None  # update epochs over each rollout; None -> PPO 2, GRPO 1 (MiniMind's)
    mini_batch_size: int | None = None  # rollout rows per update; None -> the whole rollout
    clip_epsilon: float = 0.2
    vf_coef: float = 0.5
    cliprange_value: float = 0.2
    critic_learning_rate: float | None = None  # None -> 5/3 x learning_rate, MiniMind's ratio (3e-7 and 5e-7)
    kl_coef: float = 0.02  # PPO's per-token KL penalty, subtracted from the reward
    gamma: float = 1.0
    lam: float = 0.95
    early_stop_kl: float = 0.25  # stop a rollout's updates once 0.5 * mean(log ratio^2) passes it; 0: never
    epsilon_high: float | None = None  # GRPO: the ratio's upper clip (1 + it); CISPO: the weight's cap (default 5)
    loss_type: str = "grpo"  # grpo | cispo

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            from minimind_notes.errors import UsageError

            raise UsageError(f"unknown training stage {self.stage!r}", hint=f"choose one of {', '.join(STAGES)}")
        d = DEFAULTS[self.stage]
        self.apply_minimind_spellings()
        if self.preset is None:  # the size for a budget is measured (train/auto_preset.py), unless one is given
            own_data_in_a_budget = self.data_path is not None and self.time_budget not in (None, 0, -1)
            sized = self.hidden_size is not None or self.num_hidden_layers is not None
            self.preset = ("auto" if self.stage == "pretrain" and own_data_in_a_budget and not sized
                           and not self.resume and not self.quick else "tiny")
        if self.quick:  # what `minimind path --quick` asks of each training step
            self.max_steps, self.time_budget, self.eval_batches = self.max_steps or 20, 0, 4
        embedded = _embedded
        self.data_path = self.data_path or embedded(d.data)
        if self.val_path is None and d.val and self.data_path == embedded(d.data):
            self.val_path = embedded(d.val)
        epochs_given = self.epochs is not None  # MiniMind's --epochs N means N whole passes: no default time budget
        for name in ("epochs", "batch_size", "learning_rate", "max_seq_len"):  # only None means the default
            if getattr(self, name) is None:
                setattr(self, name, getattr(d, name))
        self.check_ranges()  # before the values derived from them below
        from minimind_notes.device import requested_precision

        requested_precision(self.precision)  # a bad --precision or $MINIMIND_PRECISION stops here, not after loading
        if self.eval_batches is None:
            self.eval_batches = max(1, EVAL_ROWS // self.batch_size)
        if self.eval_every is None:
            self.eval_every = max(1, EVAL_EVERY_ROWS // (self.batch_size * self.accumulation_steps))
        if self.time_budget == -1:
            self.time_budget = None if self.max_steps is not None or epochs_given else d.time_budget
        if self.from_weight == "default":
            self.from_weight = d.from_weight
        if self.lora_alpha is None:
            self.lora_alpha = 2.0 * self.lora_rank
        if self.ppo_update_iters is None:
            self.ppo_update_iters = 2 if self.stage == "ppo" else 1
        if self.critic_learning_rate is None:
            self.critic_learning_rate = self.learning_rate * 5 / 3
        if self.loss_type not in ("grpo", "cispo"):
            from minimind_notes.errors import UsageError

            raise UsageError(f"--loss_type {self.loss_type!r} is not a GRPO loss", hint="choose grpo or cispo")
        if self.epsilon_high is None:
            self.epsilon_high = 5.0 if self.loss_type == "cispo" else self.grpo_clip
        if self.from_weight in ("none", ""):
            self.from_weight = None
        if self.run_name is not None and not re.fullmatch(r"[\w.-]+", self.run_name) or self.run_name in (".", ".."):
            from minimind_notes.errors import UsageError

            raise UsageError(f"--run-name {self.run_name!r} is not a plain name",
                             hint="use letters, digits, '_', '-' and '.': it names out/NAME_<hidden>.safetensors "
                                  "and out/runs/NAME_<hidden>, inside --save_dir")

    def apply_minimind_spellings(self) -> None:
        """The MiniMind flags whose meaning depends on the stage, moved to the fields that hold it."""
        from minimind_notes.errors import UsageError

        if self.beta is not None:
            if self.stage not in ("dpo", "grpo"):
                raise UsageError(f"--beta is a DPO or GRPO setting; {self.stage} has none",
                                 hint="drop --beta, or train dpo (its beta) or grpo (the weight of its KL term)")
            setattr(self, "dpo_beta" if self.stage == "dpo" else "kl_beta", self.beta)
        if self.lora_name is not None:
            if self.stage != "lora":
                raise UsageError(f"--lora_name names LoRA weights; {self.stage} trains none",
                                 hint="drop --lora_name, or use --save_weight NAME to name this stage's weights")
            if self.run_name not in (None, self.lora_name):
                raise UsageError(f"--lora_name {self.lora_name} and --save_weight {self.run_name} disagree",
                                 hint="give one of them: both name the LoRA weights")
            self.run_name = self.lora_name
        teacher_shape = (self.teacher_hidden_size, self.teacher_num_layers, self.teacher_use_moe)
        if self.stage != "distill" and any(teacher_shape):
            raise UsageError("--teacher_hidden_size, --teacher_num_layers and --teacher_use_moe describe "
                             "distillation's teacher", hint="use them with `minimind train distill`")
        if self.wandb_project is None:
            self.wandb_project = "MiniMind-" + {"sft": "Full-SFT", "lora": "LoRA", "dpo": "DPO", "grpo": "GRPO",
                                                 "distill": "Distillation"}.get(self.stage, "Pretrain")

    def check_ranges(self) -> None:
        """Nonsense numbers stop the run before it starts, naming the valid range (never silently replaced):
        NaN and infinity are in no range."""
        from minimind_notes.errors import UsageError

        for option in OPTIONS:
            value = getattr(self, option.field)
            if option.low is None or value is None or (option.field == "time_budget" and value in (-1, 0)):
                continue
            low, high = option.low, option.high
            in_range = (value > low if option.low_open else value >= low) and (high is None or value <= high)
            is_float = isinstance(value, float)
            if not in_range or (is_float and not math.isfinite(value)):  # asked what holds: NaN holds nothing
                valid = f"{'>' if option.low_open else '>='} {low:g}" + (f" and <= {high}" if high is not None else "")
                shown = f"{value:g}" if is_float else str(value)
                raise UsageError(f"{option.flags[0]} {shown} is out of range: it must be {valid}"
                                 + (" (a finite number)" if is_float else ""), hint=option.help)
        if self.preset == "auto":
            no_budget = not self.time_budget or self.time_budget == -1 and self.max_steps is not None
            if self.hidden_size is not None or self.num_hidden_layers is not None or no_budget:
                raise UsageError("--preset auto chooses the model size for a time budget",
                                 hint="give --time-budget SECONDS, and no --hidden-size or --num-hidden-layers")
            return
        if self.hidden_size is not None:
            from minimind_notes.model.config import preset

            heads, hidden = preset(self.preset).num_attention_heads, self.hidden_size
            if hidden % heads:
                raise UsageError(f"--hidden-size {hidden} is not a multiple of the {self.preset!r} preset's "
                                 f"{heads} attention heads", hint=f"use a multiple of {heads}, e.g. "
                                                                  f"{max(heads, hidden // heads * heads)}")

    @property
    def save_name(self) -> str:
        return SAVE_NAMES[self.stage]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Option:
    """One training option, declared once: the TrainConfig field, its help, the range a value must be in
    (checked after the stage defaults are filled in) and extra spellings of its flag. The flags are
    --field-name then the aliases (the CLI adds MiniMind's --field_name to every one); `minimind train` is
    generated from OPTIONS. Aliases spelled as in MiniMind's trainer scripts (train_pretrain.py, train_full_sft.py,
    train_lora.py, train_dpo.py, train_distillation.py, train_grpo.py) keep their meaning there."""

    field: str
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # the lowest value itself is out of range
    aliases: tuple[str, ...] = ()
    switch: bool = False  # an on/off flag that also takes MiniMind's value: --use_moe 1, --use_compile 0

    @property
    def flags(self) -> tuple[str, ...]:
        return ("--" + self.field.replace("_", "-"), *self.aliases)


# The order of `minimind train --help`.
OPTIONS = [
    Option("data_path", "Training data (JSONL; default: the stage's embedded file)."),
    Option("val_path", "Held-out data (default: the embedded split when training on the embedded data, else 0.5% "
                       "of --data_path; '' for none)."),
    Option("epochs", "Passes over the data (default: the stage's).", 1),
    Option("batch_size", "Rows per step and process (default: the stage's).", 1),
    Option("learning_rate", "Peak learning rate (default: the stage's).", 0, low_open=True, aliases=("--lr",)),
    Option("accumulation_steps", "Micro-batches per optimizer step.", 1),
    Option("max_seq_len", "Tokens per training row (default: the stage's).", 2),
    Option("grad_clip", "Gradient-norm clipping (0: off).", 0),
    Option("warmup_steps", "Steps of linear learning-rate warm-up.", 0),
    Option("min_lr_ratio", "Where the cosine decay ends, as a share of the peak learning rate.", 0, 1),
    Option("weight_decay", "AdamW weight decay.", 0),
    Option("preset", "Model size: tiny, minimind2-small, minimind2, minimind2-moe, or auto (measured for the "
                     "time budget; the default for pretrain with --data_path and --time-budget)."),
    Option("hidden_size", "Model width (default: the preset's; a multiple of its attention heads).", 1,
           aliases=("--student-hidden-size",)),
    Option("num_hidden_layers", "Model depth (default: the preset's).", 1, aliases=("--student-num-layers",)),
    Option("use_moe", "Mixture-of-experts feed-forward layers (--use_moe 1, as MiniMind).", switch=True,
           aliases=("--student-use-moe",)),
    Option("from_weight", "Start from out/NAME_<hidden>.safetensors (pretrain, full_sft, ...), a path, or none.",
           aliases=("--from-student-weight",)),
    Option("save_dir", "Where weights and runs go.", aliases=("--out-dir",)),
    Option("tokenizer", "Tokenizer folder (default: shipped)."),
    Option("max_steps", "Stop after this many steps (default: the epochs or the time budget).", 1),
    Option("time_budget", "Seconds the whole command may take, start-up and saving included; the LR schedule ends "
                          "with it (-1: the stage default unless --max-steps or --epochs is given; 0: none).", 0,
           low_open=True),
    Option("eval_every", "Steps between held-out evaluations (default: every 1,600 rows; 0: only first and last).",
           0),
    Option("save_every", "Steps between checkpoints (0: only at the end).", 0, aliases=("--save-interval",)),
    Option("log_every", "Steps between rows of metrics.jsonl (and of wandb's log).", 1, aliases=("--log-interval",)),
    Option("eval_batches", "Held-out batches per evaluation (default: about 320 rows).", 1),
    Option("seed", "Random seed.", 0, SEED_MAX),
    Option("device", "auto, cpu, cuda, mps."),
    Option("precision", "auto, fp32 or bf16; MiniMind's --dtype bfloat16|float32 too (default: $MINIMIND_PRECISION, "
                        "else auto).", aliases=("--dtype",)),
    Option("compile", "torch.compile the model (opt-in; --use_compile 1, as MiniMind).", switch=True,
           aliases=("--use-compile",)),
    Option("resume", "Continue the stopped run exactly."),
    Option("overwrite", "Replace an earlier run of the same name."),
    Option("skip_bad", "Skip and count broken data lines."),
    Option("run_name", "Name of the weights and run folder (default: the stage's, e.g. pretrain -> "
                       "out/pretrain_<hidden>).", aliases=("--save-weight",)),
    Option("quick", "A short smoke run: 20 steps, no time budget (used by `minimind path --quick`)."),
    Option("lora_rank", "LoRA: rank of the adapters.", 1),
    Option("lora_alpha", "LoRA: scale numerator (default: 2 x rank).", 0, low_open=True),
    Option("dpo_beta", "DPO: beta, how far the policy may move from the reference.", 0, low_open=True),
    Option("distill_temperature", "Distillation: softmax temperature of teacher and student.", 0, low_open=True,
           aliases=("--temperature",)),
    Option("distill_alpha", "Distillation: weight of the cross-entropy term (the rest goes to the KL).", 0, 1,
           aliases=("--alpha",)),
    Option("teacher_weight", "Distillation: the teacher's weights (a stage name or a path).",
           aliases=("--from-teacher-weight",)),
    # a group of one has no spread to normalise by: its advantages are 0/0
    Option("num_generations", "GRPO: answers sampled per prompt (the group).", 2),
    Option("kl_beta", "GRPO: weight of the KL to the reference.", 0),
    Option("grpo_clip", "GRPO: clip range of the probability ratio.", 0, low_open=True, aliases=("--epsilon",)),
    Option("grpo_max_new_tokens", "GRPO: tokens per sampled answer.", 1, aliases=("--max-gen-len",)),
    Option("rollout_temperature", "GRPO: sampling temperature of the group's answers.", 0, low_open=True),
    # MiniMind's trainer flags without an older spelling here
    Option("from_resume", "Resume the run if a saved state exists, else start it (MiniMind's --from_resume 1).",
           switch=True),
    Option("use_wandb", "Log the metrics to wandb (or SwanLab), offline when no API key is set."),
    Option("wandb_project", "The wandb project (default: MiniMind's, e.g. MiniMind-Pretrain)."),
    Option("num_workers", "Background threads that build the next batches while a step runs (0: none).", 0),
    Option("lora_name", "LoRA: name of the adapter weights, out/NAME_<hidden> (MiniMind's; like --save_weight)."),
    Option("beta", "MiniMind's --beta: DPO's beta (dpo) or the KL weight (grpo).", 0),
    Option("teacher_hidden_size", "Distillation: the teacher's width (finds out/<teacher>_<width>).", 1),
    Option("teacher_num_layers", "Distillation: the teacher's depth (checked against its weights).", 1),
    Option("teacher_use_moe", "Distillation: the teacher is a MoE model (--teacher_use_moe 1).", switch=True),
    # reinforcement learning (reward model, PPO; GRPO shares the update and reward options)
    Option("reward_model_path", "PPO/GRPO: score replies with this reward model (out/reward_<hidden>.safetensors "
                                "or a transformers sequence-classification folder) instead of the rule reward."),
    Option("ppo_update_iters", "PPO/GRPO: update epochs over each rollout (default: PPO 2, GRPO 1; > 1: the ratio "
                               "leaves 1 and the clip acts).", 1),
    Option("mini_batch_size", "PPO/GRPO: rollout replies per update (default: the whole rollout).", 1),
    Option("clip_epsilon", "PPO: clip range of the probability ratio.", 0, low_open=True),
    Option("vf_coef", "PPO: weight of the value loss.", 0),
    Option("cliprange_value", "PPO: how far a value may move from its rollout value before its loss is clipped.",
           0, low_open=True),
    Option("critic_learning_rate", "PPO: the critic's peak learning rate (default: 5/3 x --learning_rate).", 0,
           low_open=True),
    Option("kl_coef", "PPO: per-token KL penalty to the reference, subtracted from the reward.", 0),
    Option("gamma", "PPO: discount factor of GAE.", 0, 1),
    Option("lam", "PPO: lambda of GAE (0: one-step TD, 1: Monte Carlo).", 0, 1),
    Option("early_stop_kl", "PPO: stop a rollout's updates when the approximate KL to the rollout policy passes "
                            "it (0: never).", 0),
    Option("epsilon_high", "GRPO: upper clip 1 + this (default: --epsilon); CISPO: cap of the importance weight "
                           "(default 5).", 0, low_open=True),
    Option("loss_type", "GRPO: grpo (clipped ratio) or cispo (clipped, detached importance weight x log-prob)."),
]


def _embedded(name: str) -> str:
    from minimind_notes.content import data_dir

    return str(data_dir() / name)


def weight_path(save_dir: str | Path, name: str, hidden: int, moe: bool) -> Path:
    """out/<stage>_<hidden>[_moe].safetensors, MiniMind's naming with safetensors."""
    return Path(save_dir) / f"{name}_{hidden}{'_moe' if moe else ''}.safetensors"


def find_weight(save_dir: str | Path, name: str, hidden: int, moe: bool) -> Path:
    """The checkpoint `--from_weight NAME` means: a path, or out/NAME_<hidden>.safetensors or .pth."""
    from minimind_notes.errors import MiniMindError

    as_path = Path(name)
    if as_path.is_dir():
        raise MiniMindError(f"--from_weight {name} is a folder",
                            hint="pass a .safetensors or .pth file (training starts from a weights file)")
    looks_like_path = as_path.suffix in (".safetensors", ".pth", ".pt") or len(as_path.parts) > 1
    if as_path.is_file() or looks_like_path:
        if not as_path.is_file():
            raise MiniMindError(f"checkpoint not found: {as_path}")
        return as_path
    expected = weight_path(save_dir, name, hidden, moe)
    for candidate in (expected, expected.with_suffix(".pth")):
        if candidate.is_file():
            return candidate
    stage = _stage_of(name)
    first = f"train that stage first (`minimind train {stage}`), " if stage in STAGES else ""
    raise MiniMindError(
        f"--from_weight {name}: expected {expected} (or .pth), which does not exist",
        hint=first + "pass --save_dir or a path to a weights file, or use --from_weight none to start from scratch")


def _stage_of(name: str) -> str:
    return {v: k for k, v in SAVE_NAMES.items()}.get(name, name)
