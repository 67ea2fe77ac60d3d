"""SFT-LoRA exp1: what supervised fine-tuning changes in a pretrained model.

A lab-scale model (hidden 128, 2 layers) is pretrained for a few dozen steps with the project's
real trainer (`run_stage("pretrain")`), then fine-tuned on the embedded SFT conversations
(`run_stage("sft", from_weight="pretrain")`: `SFTObjective`, the loss on assistant tokens only).
Both models are then measured on held-out data:

(a) The mask: in the SFT batches this run trained on, the share of positions that carry a loss.
(b) Held-out loss on the assistant tokens of the SFT val set (what the trainer reports), split into
    the reply's content tokens and the closing <|im_end|>, and the probability the model gives to
    stopping (<|im_end|>) right where the reference reply ends.
(c) Held-out loss on plain pretraining text, before and after SFT: what does fine-tuning on chat do
    to the model's text prediction?
(d) The same held-out chat prompts, in the ChatML template, answered greedily by both models: the
    replies, how many end with <|im_end|> within the token limit, and how many equal the reference.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from minimind_notes.content import data_dir
from minimind_notes.data.chat_cache import SFTDataset
from minimind_notes.data.datasets import IGNORE, EpochSampler, TokenWindows, read_rows
from minimind_notes.data.pretokenize import prepare
from minimind_notes.data.tokenizer import MiniMindTokenizer
from minimind_notes.evaluate import lm_metrics
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.lab.stage import StageRun, run_stage
from minimind_notes.model import SamplingConfig, generate

SEQ = 128  # the lab trainer's max_seq_len: SFT rows are cut there, and the evaluations use it
PROMPTS_SHOWN = 6


def settings(quick: bool) -> dict:
    """Quick mode can afford only a weak base; the full mode pretrains long enough to write sentences.

    Short runs use a short warm-up (the default 20 steps would be half of a 40-step run) and a higher
    learning rate than the stage defaults (pretrain 2e-3, SFT 5e-4), which are tuned for minutes of training."""
    if quick:
        return {"pretrain": dict(max_steps=40, batch_size=8, max_seq_len=64, learning_rate=5e-3, warmup_steps=5),
                "sft": dict(max_steps=120, batch_size=4, learning_rate=2e-3, warmup_steps=5),
                "prompts": 16, "new_tokens": 40, "weak_base": True}
    return {"pretrain": dict(max_steps=400, batch_size=8, max_seq_len=SEQ, learning_rate=3e-3, warmup_steps=20),
            "sft": dict(max_steps=300, batch_size=8, learning_rate=1e-3, warmup_steps=10),
            "prompts": 48, "new_tokens": 64, "weak_base": False}


# -- (a) the mask ---------------------------------------------------------------------------------
def mask_share(data: SFTDataset, steps: int, batch_size: int, seed: int) -> dict:
    """The trainer's SFT batches of this run (same sampler, same seed): where the positions go."""
    sampler = EpochSampler(len(data), seed)
    positions = real = counted = 0
    for _ in range(steps):
        ids, labels = data.batch(sampler.take(batch_size))  # (B, W) right-padded
        positions += ids.numel()
        real += int((ids != data.pad_id).sum())
        counted += int((labels[:, 1:] != IGNORE).sum())  # the targets of the shifted loss
    return {"positions": positions, "real": real, "counted": counted}


# -- (b) loss on the assistant tokens, split ------------------------------------------------------------
@torch.no_grad()
def reply_losses(model: nn.Module, data: SFTDataset, eos: int) -> dict:
    """Mean NLL of the reply's content tokens and of its closing <|im_end|>, and the mean
    probability of <|im_end|> at the position where each reference reply ends."""
    model.eval()
    content, stop = [], []
    for i in range(0, len(data), 8):  # 8 rows: (8, W, 6400) float logits stay small
        ids, labels = data.batch(range(i, min(i + 8, len(data))))
        logp = model(ids).logits[:, :-1].float().log_softmax(-1)  # (B, W-1, V)
        target = labels[:, 1:]
        mask = target != IGNORE
        nll = -logp.gather(-1, target.clamp(min=0)[..., None]).squeeze(-1)  # (B, W-1)
        is_eos = mask & (target == eos)
        content += nll[mask & ~is_eos].tolist()
        stop += nll[is_eos].tolist()
    return {"content": sum(content) / len(content), "stop": sum(stop) / len(stop),
            "p_stop": sum(math.exp(-v) for v in stop) / len(stop), "n_content": len(content), "n_stop": len(stop)}


# -- (c) plain text -----------------------------------------------------------------------------------
def text_loss(model: nn.Module, tok: MiniMindTokenizer, windows: torch.Tensor) -> float:
    return lm_metrics(model, windows, windows, tok, 8, torch.device("cpu"))["val_loss"]


# -- (d) greedy replies ----------------------------------------------------------------------------------
def held_out_prompts(n: int) -> tuple[list[list[dict]], list[str]]:
    """The first user turn (with its system message, if any) of the first n SFT val conversations,
    and the reference reply that follows it."""
    rows, _ = read_rows(data_dir() / "sft_val.jsonl", "conversations", skip_bad=False)
    prompts, references = [], []
    for _, conv in rows[:n]:
        first_user = next(i for i, m in enumerate(conv) if m["role"] == "user")
        prompts.append(conv[:first_user + 1])
        references.append(conv[first_user + 1]["content"])
    return prompts, references


@torch.no_grad()
def greedy_replies(model: nn.Module, tok: MiniMindTokenizer, prompts: list[list[dict]], new_tokens: int) -> list:
    """Greedy replies to ChatML prompts, as one left-padded batch: (text, stopped with <|im_end|>, tokens)."""
    model.eval()
    encoded = [tok.apply_chat_template(p, add_generation_prompt=True, tokenize=True) for p in prompts]
    width = max(len(e) for e in encoded)
    ids = torch.full((len(encoded), width), tok.pad_token_id)
    attention = torch.zeros(len(encoded), width, dtype=torch.long)
    for row, e in enumerate(encoded):
        ids[row, width - len(e):] = torch.tensor(e)
        attention[row, width - len(e):] = 1
    cfg = SamplingConfig(max_new_tokens=new_tokens, temperature=0, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id)
    out = generate(model, ids, attention, cfg=cfg)[:, width:]
    replies = []
    for row in out.tolist():
        stopped = tok.eos_token_id in row
        body = row[:row.index(tok.eos_token_id)] if stopped else row
        replies.append({"text": tok.decode(body), "stopped": stopped, "tokens": len(body)})
    return replies


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # small matrices: one thread is fastest and steady on a busy CPU
    s = settings(ctx.quick)
    out = ctx.out_dir / "checkpoints"
    pre = run_stage("pretrain", out, seed=ctx.seed, precision=ctx.precision, **s["pretrain"])
    sft = run_stage("sft", out, from_weight="pretrain", seed=ctx.seed, precision=ctx.precision, **s["sft"])
    tok = sft.tokenizer
    p, q = s["pretrain"], s["sft"]
    ctx.log("hidden 128, 2 layers, {n:,} parameters. Pretrain: {ps} steps of {pb} x {pt} tokens, lr {pl}. "
            "SFT from that checkpoint: {qs} steps of {qb} conversations, lr {ql}.",
            "hidden 128,2 层,共 {n:,} 个参数。预训练:{ps} 步,每步 {pb} x {pt} 个 token,学习率 {pl}。"
            "从该检查点开始 SFT:{qs} 步,每步 {qb} 段对话,学习率 {ql}。",
            n=sft.summary.params, ps=p["max_steps"], pb=p["batch_size"], pt=p["max_seq_len"], pl=p["learning_rate"],
            qs=q["max_steps"], qb=q["batch_size"], ql=q["learning_rate"])

    train = SFTDataset(data_dir() / "sft.jsonl", tok, SEQ)
    val = SFTDataset(data_dir() / "sft_val.jsonl", tok, SEQ)
    mask = ctx.metric("mask", mask_share(train, q["max_steps"], q["batch_size"], ctx.seed))
    losses = {name: reply_losses(m, val, tok.eos_token_id) for name, m in (("pretrained", pre.model),
                                                                          ("sft", sft.model))}
    ctx.metric("reply_losses", losses)
    for name in losses:  # flat keys: the numbers the teaching text quotes
        ctx.metric(f"p_stop_{name}", losses[name]["p_stop"])
    ctx.metric("content_loss_fall", losses["pretrained"]["content"] - losses["sft"]["content"])
    windows = TokenWindows(prepare(data_dir() / "pretrain_val.jsonl", tok).tokens, SEQ).all_windows(32)
    text = ctx.metric("text_loss", {"pretrained": text_loss(pre.model, tok, windows),
                                    "sft": text_loss(sft.model, tok, windows)})
    trainer_eval = ctx.metric("trainer_eval", {"pretrained": sft.summary.first_eval["val_loss"],
                                               "sft": sft.summary.final_eval["val_loss"]})
    prompts, references = held_out_prompts(s["prompts"])
    replies = {name: greedy_replies(m, tok, prompts, s["new_tokens"])
               for name, m in (("pretrained", pre.model), ("sft", sft.model))}
    for by_model in replies.values():
        for reply, ref in zip(by_model, references, strict=True):
            reply["exact"] = reply["stopped"] and reply["text"].strip() == ref.strip()
            reply["ref_tokens"] = len(tok.encode_plain(ref))
    ctx.metric("replies", replies)

    show(ctx, mask, losses, text, trainer_eval, prompts, references, replies, s)
    findings(ctx, mask, losses, text, trainer_eval, replies, s)
    plot(ctx, pre, sft, losses, text)


def clip(text: str, n: int = 70) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= n else text[:n - 3] + "..."


def show(ctx: ExperimentContext, mask: dict, losses: dict, text: dict, trainer_eval: dict,
         prompts: list, references: list, replies: dict, s: dict) -> None:
    ctx.table({"en": f"(a) The {s['sft']['max_steps']} SFT batches of this run: which positions the loss learns from",
               "zh": f"(a) 本次训练的 {s['sft']['max_steps']} 个 SFT batch:loss 从哪些位置学习"},
              ["positions", "real tokens (not padding)", "carry a loss (assistant)", "share of positions",
               "share of real tokens"],
              [[mask["positions"], mask["real"], mask["counted"], mask["counted"] / mask["positions"],
                mask["counted"] / mask["real"]]])
    p, q = losses["pretrained"], losses["sft"]
    ctx.table({"en": "(b), (c) Held-out losses (nats per token), pretrained vs SFT",
               "zh": "(b)、(c) 验证集损失(每 token nats),预训练模型 vs SFT 模型"},
              ["measure", "pretrained", "SFT"],
              [["SFT val, assistant tokens (the trainer's val_loss)", trainer_eval["pretrained"], trainer_eval["sft"]],
               ["  reply content tokens", p["content"], q["content"]],
               ["  the closing <|im_end|>", p["stop"], q["stop"]],
               ["  mean p(<|im_end|>) where the reply ends", p["p_stop"], q["p_stop"]],
               ["plain text (pretrain val)", text["pretrained"], text["sft"]]])
    rows = []
    shown = list(zip(prompts, references, replies["pretrained"], replies["sft"], strict=True))[:PROMPTS_SHOWN]
    for prompt, ref, a, b in shown:
        mark = lambda r: clip(r["text"], 50) + (" <|im_end|>" if r["stopped"] else " ...")
        rows.append([clip(prompt[-1]["content"], 36), clip(ref, 36), mark(a), mark(b)])
    ctx.table({"en": "(d) Held-out prompts in ChatML, greedy replies (<|im_end|> = the model stopped; ... = it hit "
                     f"the {s['new_tokens']}-token limit)",
               "zh": "(d) 用 ChatML 模板包装的验证集提示,贪心生成的回复(<|im_end|> 表示模型自己停下;... 表示到了 "
                     f"{s['new_tokens']} 个 token 的上限)"},
              ["prompt", "reference reply", "pretrained", "SFT"], rows)


def findings(ctx: ExperimentContext, mask: dict, losses: dict, text: dict, trainer_eval: dict, replies: dict,
             s: dict) -> None:
    share = mask["counted"] / mask["positions"]
    ctx.finding(
        "Only the assistant's replies train: in this run's SFT batches {c:,} of {n:,} positions ({sh:.1%}) carry a "
        "loss, {r:.1%} of the real (non-padding) tokens; the system, user and template tokens are context only",
        "只有 assistant 的回复参与训练:本次 SFT batch 的 {n:,} 个位置中只有 {c:,} 个({sh:.1%})计入 loss,"
        "占真实(非 padding)token 的 {r:.1%};system、user 和模板 token 都只是上下文",
        Bar({"en": "share of positions with a loss", "zh": "计入 loss 的位置占比"}, share, "<", 0.5),
        c=mask["counted"], n=mask["positions"], sh=share, r=mask["counted"] / mask["real"])
    drop = trainer_eval["pretrained"] - trainer_eval["sft"]
    ctx.finding(
        "SFT lowers the held-out loss on assistant tokens from {a:.2f} to {b:.2f} nats/token in {q} steps",
        "SFT 训练 {q} 步后,验证集 assistant token 上的损失从 {a:.2f} 降到 {b:.2f} nats/token",
        Bar({"en": "fall of the loss (nats)", "zh": "损失的降幅(nats)"}, drop, ">", 0.5),
        a=trainer_eval["pretrained"], b=trainer_eval["sft"], q=s["sft"]["max_steps"])
    p, q = losses["pretrained"], losses["sft"]
    ctx.finding(
        "The model learns where a reply ends: the probability it gives <|im_end|> right after the reference reply "
        "rises from {a:.3f} to {b:.3f} ({x:.0f}x); the loss on that token falls {la:.2f} -> {lb:.2f}, more than on "
        "the reply's content tokens ({ca:.2f} -> {cb:.2f})",
        "模型学会了回复在哪里结束:在参考回复末尾,它给 <|im_end|> 的概率从 {a:.3f} 升到 {b:.3f}({x:.0f} 倍);"
        "这个 token 的损失 {la:.2f} -> {lb:.2f},降幅大于回复内容 token({ca:.2f} -> {cb:.2f})",
        [Bar({"en": "p(<|im_end|>) after SFT", "zh": "SFT 后 <|im_end|> 的概率"}, q["p_stop"], ">", 0.05),
         Bar({"en": "times the pretrained model's", "zh": "是预训练模型的倍数"}, q["p_stop"] / p["p_stop"], ">=", 10),
         Bar({"en": "fall of the stop token's loss minus the content's", "zh": "停止 token 损失降幅减去内容的降幅"},
             (p["stop"] - q["stop"]) - (p["content"] - q["content"]), ">", 0)],
        a=p["p_stop"], b=q["p_stop"], x=q["p_stop"] / p["p_stop"], la=p["stop"], lb=q["stop"], ca=p["content"],
        cb=q["content"])
    stops = {k: sum(r["stopped"] for r in v) for k, v in replies.items()}
    stopped = [r["tokens"] for r in replies["sft"] if r["stopped"]]
    n = len(replies["sft"])
    values = dict(n=n, a=stops["pretrained"], b=stops["sft"], t=s["new_tokens"], k=sum(t > 0 for t in stopped),
                  m=sum(stopped) / max(len(stopped), 1), rm=sum(r["ref_tokens"] for r in replies["sft"]) / n,
                  e=sum(r["exact"] for r in replies["sft"]), se=math.sqrt(0.5 / n))
    # n prompts make a share noisy: the rise is judged in standard errors, taking the largest a difference of two
    # shares of n can have (both at 0.5), since 0 of n or n of n would give none.
    # What a closed reply says, by its length: empty or a word or two is a closed turn, not yet an answer.
    checks = [Bar({"en": "share of SFT replies closed", "zh": "SFT 收尾回复的比例"}, stops["sft"] / n, ">=", 0.5),
              Bar({"en": "rise of the closed share over the pretrained model's, in standard errors",
                   "zh": "收尾比例相对预训练模型的提升(以标准误计)"},
                  (stops["sft"] - stops["pretrained"]) / n / values["se"], ">", 2),
              Bar({"en": "closed replies' length / the references'", "zh": "收尾回复的平均长度 / 参考回复的平均长度"},
                  values["m"] / values["rm"], "<" if s["weak_base"] else ">=", 0.25)]
    if s["weak_base"]:  # quick mode: 40 pretraining steps leave a base that has not learned what to say
        ctx.finding(
            "What a weak base learns first is where a turn ends: of {n} greedy replies to held-out ChatML prompts, "
            "the SFT model closes {b} with <|im_end|> within {t} tokens (the pretrained model {a}; standard error "
            "of the difference of the shares at most {se:.2f}), but says almost nothing: {k} of the closed replies "
            "are not empty, and they average {m:.1f} tokens against the "
            "reference replies' {rm:.1f} ({e} equal the reference). The stop token ends every reply while the words "
            "differ in each, so the stop is learned first",
            "弱基座最先学会的是一轮对话在哪里结束:对 {n} 个验证集 ChatML 提示做贪心生成,SFT 模型有 {b} 个在 {t} 个 "
            "token 内以 <|im_end|> 收尾(预训练模型 {a} 个;两个比例之差的标准误至多 {se:.2f}),"
            "但几乎什么都没说:收尾的回复中只有 {k} 个不是空的,"
            "平均 {m:.1f} 个 token,参考回复平均 {rm:.1f} 个(与参考完全一致的 {e} 个)。停止 token 结束每一条回复,"
            "而内容每条都不同,所以先学会的是停止",
            checks, **values)
    else:
        ctx.finding(
            "Of {n} greedy replies to held-out ChatML prompts, the SFT model closes {b} with <|im_end|> within {t} "
            "tokens (the pretrained model {a}; standard error of the difference of the shares at most {se:.2f}); {k} "
            "of the closed replies are not empty, they average {m:.1f} tokens "
            "against the reference replies' {rm:.1f}, and {e} of {n} equal the reference reply",
            "对 {n} 个验证集 ChatML 提示做贪心生成:SFT 模型有 {b} 个在 {t} 个 token 内以 <|im_end|> 收尾(预训练模型 "
            "{a} 个;两个比例之差的标准误至多 {se:.2f});"
            "收尾的回复中 {k} 个不是空的,平均 {m:.1f} 个 token,参考回复平均 {rm:.1f} 个;与参考回复完全"
            "一致的有 {e} 个",
            checks, **values)
    change = text["sft"] - text["pretrained"]
    ctx.finding(
        "SFT teaches a format, not more text knowledge, and it costs some: the loss on held-out pretraining text "
        "goes {a:.2f} -> {b:.2f} ({d:+.2f}) while the chat loss falls, a first sign of forgetting at this learning "
        "rate",
        "SFT 教会的是格式,而不是更多的文本知识,而且有代价:预训练验证文本上的损失 {a:.2f} -> {b:.2f}({d:+.2f}),"
        "同时聊天损失在下降,这是在这个学习率下出现遗忘的初步迹象",
        Bar({"en": "rise of the plain-text loss (nats)", "zh": "普通文本损失的上升(nats)"}, change, ">", 0.2),
        a=text["pretrained"], b=text["sft"], d=change)


def plot(ctx: ExperimentContext, pre: StageRun, sft: StageRun, losses: dict, text: dict) -> None:
    plt = ctx.plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    steps_p, loss_p = zip(*pre.losses, strict=True)
    steps_s, loss_s = zip(*sft.losses, strict=True)
    left.plot(steps_p, loss_p, "o-", ms=3, label="pretrain (all tokens of text windows)")
    offset = steps_p[-1]
    left.plot([offset + x for x in steps_s], loss_s, "s-", ms=3, label="SFT (assistant tokens only)")
    left.axvline(offset, color="grey", ls=":")
    left.set_xlabel("training step")
    left.set_ylabel("training loss, nats per token")
    left.legend(fontsize=8)
    names = ["reply content", "closing <|im_end|>", "plain text"]
    x = range(len(names))
    for k, (name, shift) in enumerate((("pretrained", -0.2), ("sft", 0.2))):
        values = [losses[name]["content"], losses[name]["stop"], text[name]]
        right.bar([i + shift for i in x], values, width=0.4, label=name, color=f"C{k}")
    right.set_xticks(list(x), names)
    right.set_ylabel("held-out loss, nats per token")
    right.set_title("SFT val (first two) and pretraining val (last)", fontsize=9)
    right.legend()
    fig.suptitle("What SFT changes: the reply format, above all where to stop")
    ctx.savefig(fig, "sft_changes.png")


if __name__ == "__main__":
    main(__file__)
