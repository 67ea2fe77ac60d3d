"""Feedforward exp2: what attention does and what the FFN does.

A Transformer block has two sub-layers with different jobs. The FFN works on each position
by itself: it can compute any function of the vector at that position, but it cannot see
any other position. Attention is the only place where positions exchange information.

We test that with two synthetic tasks on random sequences of tokens 0..31:

- per-token: at every position output (7 * token + 3) mod 32, a fixed function of the
  token itself; nothing needs to move between positions;
- copy-back: at every position i >= 3 output the token at position i - 3; the answer
  is somewhere else in the sequence, so the model must move information.

Two models of equal size are trained on each task: embedding -> one residual block -> RMSNorm
-> linear head, where the block is either attention only (x + Attention(RMSNorm(x)), with
RoPE) or FFN only (x + FeedForward(RMSNorm(x))). Both blocks are MiniMind's real `Attention`
and `FeedForward` (4 query heads of 16 with 2 KV heads vs SwiGLU width 64: 12,288 weights
each). We measure accuracy on fresh sequences, and where the trained attention looks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from minimind_notes.device import autocast, autocast_dtype
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.model import Attention, FeedForward, MiniMindConfig, RMSNorm, precompute_freqs_cis

VOCAB, SEQ, SHIFT = 32, 24, 3  # token ids 0..31, sequences of 24, copy from 3 positions back
HIDDEN, BATCH, LR = 64, 64, 1e-2
TASKS = ["per-token", "copy-back"]
KINDS = ["attention only", "FFN only"]
CONFIG = MiniMindConfig(vocab_size=VOCAB, hidden_size=HIDDEN, num_attention_heads=4, num_key_value_heads=2,
                        intermediate_size=64, rope_theta=1e4, max_position_embeddings=SEQ)


class OneBlockModel(nn.Module):
    """Embedding -> x + mixer(RMSNorm(x)) -> RMSNorm -> head; mixer is Attention or FeedForward."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.embed = nn.Embedding(VOCAB, HIDDEN)
        self.norm_in = RMSNorm(HIDDEN)
        self.mixer = Attention(CONFIG) if kind == "attention only" else FeedForward(CONFIG)
        self.norm_out = RMSNorm(HIDDEN)
        self.head = nn.Linear(HIDDEN, VOCAB, bias=False)
        cos, sin = precompute_freqs_cis(CONFIG.head_dim, SEQ, CONFIG.rope_theta)  # (T, head_dim) each
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, ids: torch.Tensor, return_attention: bool = False):  # ids (B, T) -> logits (B, T, V)
        x = self.embed(ids)  # (B, T, C)
        h = self.norm_in(x)
        weights = None
        if self.kind == "attention only":  # causal self-attention: position i reads positions <= i
            out, _, weights = self.mixer(h, (self.cos, self.sin), output_attentions=return_attention)
        else:  # each position on its own
            out = self.mixer(h)
        logits = self.head(self.norm_out(x + out))
        return (logits, weights) if return_attention else logits

    def mixer_parameters(self) -> int:
        return sum(p.numel() for p in self.mixer.parameters())


def make_batch(task: str, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random token ids (n, T) and targets (n, T); -100 marks positions without a target."""
    ids = torch.randint(0, VOCAB, (n, SEQ), generator=gen)
    if task == "per-token":
        return ids, (7 * ids + 3) % VOCAB
    targets = torch.full_like(ids, -100)
    targets[:, SHIFT:] = ids[:, :-SHIFT]  # position i must output the token at i - SHIFT
    return ids, targets


@torch.no_grad()
def accuracy(model: OneBlockModel, ids: torch.Tensor, targets: torch.Tensor) -> float:
    scored = targets != -100
    return float((model(ids).argmax(-1)[scored] == targets[scored]).float().mean())


def train(kind: str, task: str, steps: int, seed: int, test: tuple[torch.Tensor, torch.Tensor],
          eval_every: int, precision: str):
    """Train one model (the forward under bf16 autocast if `precision` is bf16); returns it and its test
    accuracy every `eval_every` steps."""
    cpu = torch.device("cpu")
    dtype = autocast_dtype(cpu, precision)
    torch.manual_seed(seed)
    model = OneBlockModel(kind)
    gen = torch.Generator().manual_seed(seed + 1)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)
    curve = [(0, accuracy(model, *test))]
    for step in range(1, steps + 1):
        ids, targets = make_batch(task, BATCH, gen)
        with autocast(cpu, dtype):
            logits = model(ids)  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100)  # fp32 loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % eval_every == 0 or step == steps:
            curve.append((step, accuracy(model, *test)))
    return model, curve


@torch.no_grad()
def weight_at_shift(model: OneBlockModel, ids: torch.Tensor) -> list[float]:
    """Per head: mean attention weight that position i puts on position i - SHIFT."""
    _, weights = model(ids, return_attention=True)  # weights (B, nh, T, T)
    rows = torch.arange(SHIFT, SEQ)
    return weights[:, :, rows, rows - SHIFT].mean(dim=(0, 2)).tolist()  # (nh,)


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # tiny matrices: on a busy CPU a second thread made steps several times slower
    steps, eval_every = (100, 5) if ctx.quick else (300, 10)
    ctx.log("Tokens 0..{v}, sequences of {t}; per-token: y = (7x + 3) mod {V}; copy-back: y_i = x_(i-{k}). "
            "{s} steps of batch {b} per model.",
            "token 取 0..{v},序列长 {t};逐 token 任务:y = (7x + 3) mod {V};回拷任务:y_i = x_(i-{k})。"
            "每个模型训练 {s} 步,batch {b}。",
            v=VOCAB - 1, t=SEQ, V=VOCAB, k=SHIFT, s=steps, b=BATCH)
    results, models = {}, {}
    for task in TASKS:
        test = make_batch(task, 512, torch.Generator().manual_seed(10_000 + ctx.seed))  # fresh sequences
        for kind in KINDS:
            models[kind, task], curve = train(kind, task, steps, ctx.seed, test, eval_every, ctx.precision)
            results[kind, task] = {"curve": curve, "accuracy": curve[-1][1]}
    acc = {key: r["accuracy"] for key, r in results.items()}
    params = {kind: models[kind, TASKS[0]].mixer_parameters() for kind in KINDS}
    chance = 1 / VOCAB
    probe = make_batch("copy-back", 256, torch.Generator().manual_seed(20_000 + ctx.seed))[0]
    shift_weight = weight_at_shift(models["attention only", "copy-back"], probe)

    for (kind, task), r in results.items():
        ctx.metric(f"accuracy_{kind.split()[0].lower()}_{task}", r["accuracy"])
        ctx.metric(f"curve_{kind.split()[0].lower()}_{task}", r["curve"])
    ctx.metric("mixer_parameters", params)
    ctx.metric("attention_weight_at_shift_per_head", shift_weight)
    ctx.table({"en": "Test accuracy on 512 fresh sequences (chance = 1/32 = 0.031)",
               "zh": "在 512 条新序列上的测试准确率(随机猜测 = 1/32 = 0.031)"},
              ["model", "block parameters", "per-token", "copy-back"],
              [[kind, params[kind], acc[kind, "per-token"], acc[kind, "copy-back"]] for kind in KINDS])

    ctx.code_fact(
        "Both blocks hold the same number of weights: attention {a:,} and FFN {f:,} (chosen so)",
        "两种块的权重数量相同:注意力 {a:,},FFN {f:,}(有意这样配置)",
        params["attention only"] == params["FFN only"], a=params["attention only"], f=params["FFN only"])
    ctx.finding(
        "The per-token task needs no mixing: the FFN-only model reaches {f:.1%} accuracy "
        "(the attention-only model {a:.1%})",
        "逐 token 任务不需要在位置之间传递信息:只有 FFN 的模型准确率达到 {f:.1%}"
        "(只有注意力的模型为 {a:.1%})",
        Bar({"en": "FFN-only accuracy", "zh": "FFN 模型准确率"}, acc["FFN only", "per-token"], ">", 0.95),
        f=acc["FFN only", "per-token"], a=acc["attention only", "per-token"])
    ctx.finding(
        "Copying from {k} positions back is impossible without attention: the FFN-only model stays at "
        "{f:.1%}, chance is {c:.1%}; the attention-only model reaches {a:.1%}",
        "不用注意力就无法从 {k} 个位置之前拷贝:只有 FFN 的模型停在 {f:.1%},随机猜测为 {c:.1%};"
        "只有注意力的模型达到 {a:.1%}",
        [Bar({"en": "FFN-only accuracy / chance", "zh": "FFN 模型准确率 / 随机水平"},
             acc["FFN only", "copy-back"] / chance, "<", 2),
         Bar({"en": "attention-only accuracy", "zh": "注意力模型准确率"},
             acc["attention only", "copy-back"], ">", 0.9)],
        k=SHIFT, f=acc["FFN only", "copy-back"], c=chance, a=acc["attention only", "copy-back"])
    ctx.finding(
        "The trained attention learned where to look: its heads put {w} of their weight on the token "
        "{k} positions back (best head {m:.2f}; a uniform causal head would give about {u:.2f})",
        "训练后的注意力学会了看哪里:各个头放在 {k} 个位置之前那个 token 上的权重为 {w}"
        "(最好的头 {m:.2f};均匀的因果注意力约为 {u:.2f})",
        Bar({"en": "best head", "zh": "最好的头"}, max(shift_weight), ">", 0.5),
        w=", ".join(f"{x:.2f}" for x in shift_weight), k=SHIFT,
        m=max(shift_weight), u=float(sum(1 / (i + 1) for i in range(SHIFT, SEQ)) / (SEQ - SHIFT)))

    plot(ctx, results, chance)


def plot(ctx: ExperimentContext, results: dict, chance: float) -> None:
    plt = ctx.plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, task in zip(axes, TASKS, strict=True):
        for kind, style in zip(KINDS, ("o-", "s-"), strict=True):
            steps, accs = zip(*results[kind, task]["curve"], strict=True)
            ax.plot(steps, accs, style, label=kind)
        ax.axhline(chance, color="grey", lw=0.8, ls="--", label="chance (1/32)")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("training step")
        ax.set_ylabel("test accuracy")
        ax.set_title({"per-token": "per-token: y = (7x + 3) mod 32",
                      "copy-back": f"copy-back: y_i = x_(i-{SHIFT})"}[task])
        ax.legend(loc="center right")
    ctx.savefig(fig, "attention_vs_ffn.png")


if __name__ == "__main__":
    main(__file__)
