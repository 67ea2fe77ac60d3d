"""Pretrain exp1: a short, real pretraining run, watched step by step.

The project's own `Trainer` (the one `minimind train pretrain` runs) trains a MiniMind model from
scratch on the embedded corpus: packed windows of BPE tokens, next-token cross-entropy, AdamW,
warm-up + cosine learning rate. Quick mode trains a lab-size model (hidden 64, 2 layers, 64-token
windows) for a fixed number of steps; full mode trains the real `tiny` preset for 120 steps or a
300 s time box, whichever ends first, as `minimind train pretrain --max-steps 120 --time-budget
300` would.

We drive `trainer.train_step()` ourselves so that we can stop along the way:
- held-out loss, perplexity and bits per byte (`lm_metrics`) at regular points of the run;
- three baselines on the same held-out tokens: uniform guessing over the vocabulary, the best
  context-free token model (unigram counts of the training tokens), and the byte-unigram entropy
  of the corpus text;
- continuations of a fixed English and Chinese prompt at the start, 1/3, 2/3 and the end of the
  run: greedy (the single most likely token each time) and sampled (temperature 1, fixed seed);
  as a measured proxy for "more word-like", the share of the sampled English words that occur in
  the training text;
- the learning rate of every step, and the run's tokens per second.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import numpy as np
import torch

from minimind_notes.data.pretokenize import iter_documents
from minimind_notes.device import synchronize
from minimind_notes.lab.byte_lm import corpus_text, unigram_entropy
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.lab.stage import lab_config
from minimind_notes.model import SamplingConfig, generate
from minimind_notes.train.loop import Trainer

# Quick: a lab-size model and a step box. Full: the real tiny preset with the pretrain stage's own
# batch (4 x 256 tokens) and lr (3e-3), for 120 steps or a 300 s time box, whichever ends first (the
# schedule follows the one that ends first, as in `minimind train pretrain --max-steps 120
# --time-budget 300`). On a busy shared CPU the time box ended a 150-step / 400 s version after 54
# steps, and its checks still held.
QUICK = dict(hidden_size=64, num_hidden_layers=2, max_seq_len=64, batch_size=8, learning_rate=4e-3,
             warmup_steps=10, max_steps=160, time_budget=None, eval_batches=4)
FULL = dict(preset="tiny", hidden_size=None, num_hidden_layers=None, max_seq_len=None, batch_size=None,
            learning_rate=None, warmup_steps=20, max_steps=120, time_budget=300, eval_batches=4)
PROMPTS = {"en": "This is Kate. She lives in", "zh": "这是凯特。她住在"}  # the corpus's own style
N_EVALS = 16  # held-out evaluations along the run (plus one before the first step)
SAMPLE_AT = (1 / 3, 2 / 3)  # plus the start and the end
NEW_TOKENS, N_SAMPLED = 24, 8
WORD = re.compile(r"[A-Za-z]+")


# -- baselines on the held-out tokens ------------------------------------------------------------
def baselines(trainer: Trainer, scored: dict) -> dict:
    """Context-free baselines in nats per token on the windows `evaluate()` scores, and their bits per byte.

    `scored` is one evaluate() result on those windows: its val_bpb / val_loss is exactly the factor
    lm_metrics used to turn nats per token into bits per byte there (tokens / bytes / ln 2)."""
    cfg, tok = trainer.cfg, trainer.tok
    windows = trainer.objective.val.all_windows(cfg.eval_batches * cfg.batch_size)  # (N, T+1)
    targets = windows[:, 1:].numpy().ravel()  # what the model is asked to predict
    train = np.asarray(trainer.objective.train.tokens, dtype=np.int64)
    counts = np.bincount(train, minlength=tok.vocab_size) + 1.0  # add-one: no token gets probability 0
    unigram = float(-np.log(counts / counts.sum())[targets].mean())
    to_bpb = scored["val_bpb"] / scored["val_loss"]
    byte_unigram = unigram_entropy(corpus_text("train", "all")) / math.log(2)
    return {"uniform": math.log(tok.vocab_size), "unigram": unigram, "uniform_bpb": math.log(tok.vocab_size) * to_bpb,
            "unigram_bpb": unigram * to_bpb, "byte_unigram_bpb": byte_unigram,
            "bytes_per_token": 1 / (to_bpb * math.log(2))}


# -- samples ------------------------------------------------------------------------------------------
def continue_text(trainer: Trainer, prompt: str, temperature: float, n: int, seed: int) -> list[str]:
    """n continuations of `prompt` (NEW_TOKENS tokens each, not stopped at <|im_end|>)."""
    tok, model = trainer.tok, trainer.model
    ids = torch.tensor([[tok.bos_token_id, *tok.encode(prompt)]] * n)  # (n, P)
    cfg = SamplingConfig(max_new_tokens=NEW_TOKENS, temperature=temperature, top_p=1.0, eos_token_id=None)
    out = generate(model.eval(), ids, cfg=cfg, generator=torch.Generator().manual_seed(seed))
    model.train()
    return [tok.decode(row[ids.shape[1]:].tolist()) for row in out]


def take_samples(trainer: Trainer, words: set[str], seed: int) -> dict:
    row = {"step": trainer.step, "tokens": trainer.tokens}
    for lang, prompt in PROMPTS.items():
        row[f"{lang}_greedy"] = continue_text(trainer, prompt, 0.0, 1, seed)[0]
        row[f"{lang}_sampled"] = continue_text(trainer, prompt, 1.0, N_SAMPLED, seed)
    found = [w.lower() for text in row["en_sampled"] for w in WORD.findall(text)]
    row["word_share"] = sum(w in words for w in found) / max(len(found), 1)
    row["n_words"] = len(found)
    return row


def training_words(path: str) -> set[str]:
    return {w.lower() for doc in iter_documents(Path(path)) for w in WORD.findall(doc)}


# -- the run ------------------------------------------------------------------------------------------
def pretrain(ctx: ExperimentContext) -> tuple[Trainer, dict]:
    """Train step by step as Trainer.run() does (same LR schedule, same time box), stopping to look."""
    settings = QUICK if ctx.quick else FULL
    cfg = lab_config("pretrain", ctx.out_dir, seed=ctx.seed, precision=ctx.precision, **settings)
    trainer = Trainer(cfg, echo=lambda t: None)
    words = training_words(trainer.cfg.data_path)
    steps, evals, samples = [], [dict(step=0, tokens=0, **trainer.evaluate())], [take_samples(trainer, words, ctx.seed)]
    next_eval, sample_marks = 1, list(SAMPLE_AT)
    while trainer.step < trainer.total_steps:
        start = time.perf_counter()
        logs = trainer.train_step()
        synchronize(trainer.device)
        trainer.elapsed += time.perf_counter() - start  # training time only, as run() counts it
        steps.append({"step": trainer.step, "tokens": trainer.tokens, "loss": logs["loss"], "lr": logs["lr"]})
        progress = trainer.progress_fraction()  # by steps, or by the time box when that ends first
        done = progress >= 1.0 or trainer.step >= trainer.total_steps
        sample_now = done or bool(sample_marks and progress >= sample_marks[0])
        if progress >= next_eval / N_EVALS or sample_now:  # every sample gets its held-out loss too
            evals.append(dict(step=trainer.step, tokens=trainer.tokens, **trainer.evaluate()))
            next_eval = math.floor(progress * N_EVALS) + 1
        if sample_now:
            samples.append(take_samples(trainer, words, ctx.seed))
            sample_marks = [m for m in sample_marks if m > progress]
        if done:
            break
    n_params = sum(p.numel() for p in trainer.model.parameters())
    return trainer, {"steps": steps, "evals": evals, "samples": samples, "params": n_params,
                     "seconds": trainer.elapsed, "tokens": trainer.tokens}


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # small models: one thread is steady on a busy CPU (two threads contending stall)
    trainer, r = pretrain(ctx)
    base = baselines(trainer, r["evals"][-1])
    cfg = trainer.cfg
    ctx.metric("config", {"preset": cfg.preset, "hidden_size": trainer.model.config.hidden_size,
                          "layers": trainer.model.config.num_hidden_layers, "params": r["params"],
                          "batch_size": cfg.batch_size, "max_seq_len": cfg.max_seq_len,
                          "learning_rate": cfg.learning_rate, "warmup_steps": cfg.warmup_steps,
                          "time_budget": cfg.time_budget, "max_steps": cfg.max_steps})
    for name in ("evals", "samples", "steps"):
        ctx.metric(name, r[name])
    ctx.metric("baselines", base)
    for name in ("uniform_bpb", "unigram_bpb", "byte_unigram_bpb", "bytes_per_token"):  # flat: quoted by the text
        ctx.metric(name, base[name])
    ctx.metric("start_loss", r["evals"][0]["val_loss"])
    ctx.metric("end_bpb", r["evals"][-1]["val_bpb"])
    ctx.metric("tokens_per_s", r["tokens"] / r["seconds"])
    box = f"{cfg.max_steps} steps" + (f" or a {cfg.time_budget:.0f} s time box, whichever ends first; "
                                      f"it stopped after {trainer.step} steps and {r['seconds']:.0f} s"
                                      if cfg.time_budget else "")
    ctx.log("Pretraining a {p:,}-parameter MiniMind (hidden {h}, {n} layers) with the project's Trainer: batch {b} x "
            "{t} tokens, peak lr {lr}, warm-up {w} steps then cosine, {box}.",
            "用项目自己的 Trainer 预训练一个 {p:,} 参数的 MiniMind(hidden {h},{n} 层):batch {b} x {t} 个 token,"
            "峰值学习率 {lr},先 warm-up {w} 步再余弦衰减,{box}。",
            p=r["params"], h=trainer.model.config.hidden_size, n=trainer.model.config.num_hidden_layers,
            b=cfg.batch_size, t=cfg.max_seq_len, lr=cfg.learning_rate, w=cfg.warmup_steps, box=box)
    tables(ctx, r, base)
    findings(ctx, trainer, r, base)
    plot(ctx, r, base)


def shown(text: str, limit: int = 70) -> str:
    text = text.replace("\n", "↵")
    return text if len(text) <= limit else text[:limit] + "…"


def tables(ctx: ExperimentContext, r: dict, base: dict) -> None:
    ctx.table({"en": "Held-out loss along the run (nats per token), with the context-free baselines",
               "zh": "训练过程中的验证集损失(每 token 的 nats),以及不看上下文的基线"},
              ["step", "tokens seen", "held-out loss", "perplexity", "bits per byte"],
              [[e["step"], e["tokens"], e["val_loss"], e["val_ppl"], e["val_bpb"]] for e in r["evals"]]
              + [["uniform over vocab", "-", base["uniform"], math.exp(base["uniform"]), base["uniform_bpb"]],
                 ["token unigram", "-", base["unigram"], math.exp(base["unigram"]), base["unigram_bpb"]],
                 ["byte unigram (text)", "-", "-", "-", base["byte_unigram_bpb"]]])
    loss_at = {e["step"]: e["val_loss"] for e in r["evals"]}
    for lang, name in (("en", "English"), ("zh", "Chinese")):
        ctx.table({"en": f"{name} prompt {PROMPTS[lang]!r}: greedy and one sampled continuation (temperature 1)",
                   "zh": f"{'英文' if lang == 'en' else '中文'}提示 {PROMPTS[lang]!r}:贪心续写与一条采样续写(温度 1)"},
                  ["step", "tokens seen", "held-out loss", "greedy", "sampled"],
                  [[s["step"], s["tokens"], loss_at.get(s["step"], "-"), shown(s[f"{lang}_greedy"]),
                    shown(s[f"{lang}_sampled"][0])] for s in r["samples"]])


def findings(ctx: ExperimentContext, trainer: Trainer, r: dict, base: dict) -> None:
    first, last = r["evals"][0], r["evals"][-1]
    drop = first["val_loss"] - last["val_loss"]
    ctx.finding(
        "Pretraining works: held-out loss falls from {a:.3f} nats per token (ln {v} = {u:.3f}: the untrained model "
        "spreads its bet evenly over the vocabulary) to {b:.3f}, perplexity {pa:,.0f} -> {pb:,.1f}, after {n:,} "
        "tokens",
        "预训练确实在学:验证集损失从每 token {a:.3f} nats(ln {v} = {u:.3f}:未训练的模型把概率平均押在整个词表上)"
        "降到 {b:.3f},困惑度 {pa:,.0f} -> {pb:,.1f},共看了 {n:,} 个 token",
        [Bar({"en": "|start - ln vocab|", "zh": "|起点 - ln 词表大小|"},
             abs(first["val_loss"] - base["uniform"]), "<", 0.1),
         Bar({"en": "drop (nats)", "zh": "降幅(nats)"}, drop, ">", 2.0)], a=first["val_loss"], b=last["val_loss"],
        v=trainer.tok.vocab_size, u=base["uniform"], pa=first["val_ppl"], pb=last["val_ppl"], n=r["tokens"])
    below = next((e for e in r["evals"] if e["val_loss"] < base["unigram"]), None)
    ctx.finding(
        "The model uses context: its held-out loss {b:.3f} is {g:.2f} nats below the best context-free model over "
        "the same tokens (unigram counts of the training tokens: {u:.3f}); it went below that line at step {s} of "
        "{n}",
        "模型用上了上下文:验证集损失 {b:.3f},比同一批 token 上最好的不看上下文的模型(训练 token 的 unigram 频率:"
        "{u:.3f})低 {g:.2f} nats;它在第 {s} 步(共 {n} 步)越过这条线",
        Bar({"en": "nats below the token unigram", "zh": "低于 token unigram 的 nats"},
            base["unigram"] - last["val_loss"], ">", 0.3), b=last["val_loss"], u=base["unigram"],
        g=base["unigram"] - last["val_loss"], s=below["step"] if below else "-", n=trainer.step)
    ctx.finding(
        "Bits per byte need the right baseline: one token covers {bt:.2f} bytes here, so even uniform guessing "
        "over the vocabulary costs only {ub:.2f} bits per byte, already below the corpus's byte-unigram entropy of "
        "{bb:.2f}. The fair context-free line for this tokenizer is the token unigram, {tb:.2f} bits per byte; the "
        "model ends at {mb:.3f}",
        "每字节比特数要选对基线:这里一个 token 平均覆盖 {bt:.2f} 个字节,所以连在词表上均匀乱猜也只要每字节 "
        "{ub:.2f} 比特,已经低于语料按字节统计的 unigram 熵 {bb:.2f}。对这个分词器公平的无上下文基线是 token unigram,"
        "每字节 {tb:.2f} 比特;模型最终为 {mb:.3f}",
        [Bar({"en": "uniform guess minus byte unigram (bpb)", "zh": "均匀猜测减字节 unigram(bpb)"},
             base["uniform_bpb"] - base["byte_unigram_bpb"], "<", 0),
         Bar({"en": "model minus token unigram (bpb)", "zh": "模型减 token unigram(bpb)"},
             last["val_bpb"] - base["unigram_bpb"], "<", 0)],
        bt=base["bytes_per_token"], ub=base["uniform_bpb"], bb=base["byte_unigram_bpb"], tb=base["unigram_bpb"],
        mb=last["val_bpb"])
    s0, s1 = r["samples"][0], r["samples"][-1]
    ctx.finding(
        "Samples become word-like: of the English words in {k} sampled continuations, {a:.0%} occur in the "
        "training text at step 0 (random tokens, often pieces of words or Chinese) and {b:.0%} at the end "
        "({na} vs {nb} words)",
        "采样的续写越来越像词:{k} 条采样续写中的英文单词,第 0 步时有 {a:.0%} 出现在训练文本里(随机 token,"
        "常常是词的碎片或中文),训练结束时为 {b:.0%}(单词数 {na} 对 {nb})",
        [Bar({"en": "rise of the share", "zh": "占比的上升"}, s1["word_share"] - s0["word_share"], ">", 0.2),
         Bar({"en": "share at the end", "zh": "结束时的占比"}, s1["word_share"], ">", 0.8)],
        k=N_SAMPLED, a=s0["word_share"],
        b=s1["word_share"], na=s0["n_words"], nb=s1["n_words"])
    cfg = trainer.cfg
    per_step = cfg.batch_size * cfg.accumulation_steps * (cfg.max_seq_len + 1)
    ctx.code_fact(
        "Tokens per step = batch {b} x accumulation {a} x window {w} (max_seq_len + 1) = {p:,}; {n} steps "
        "processed {t:,} tokens in {s:.1f} s of training, {tps:,.0f} tokens per second on {d} (check: tokens = "
        "steps x tokens per step)",
        "每步 token 数 = batch {b} x 梯度累积 {a} x 窗口 {w}(max_seq_len + 1)= {p:,};{n} 步共处理 {t:,} 个 token,"
        "训练用时 {s:.1f} 秒,在 {d} 上每秒 {tps:,.0f} 个 token(检验:token 数 = 步数 x 每步 token 数)",
        r["tokens"] == trainer.step * per_step, b=cfg.batch_size, a=cfg.accumulation_steps, w=cfg.max_seq_len + 1,
        p=per_step, n=trainer.step, t=r["tokens"], s=r["seconds"], tps=r["tokens"] / r["seconds"],
        d=str(trainer.device))
    lrs = [s["lr"] for s in r["steps"]]
    peak_at = int(np.argmax(lrs)) + 1
    ctx.code_fact(
        "The learning rate followed warm-up then cosine decay: it rose linearly to its peak {p:.1e} at step {k} "
        "(warm-up {w} steps), then fell to {e:.1e} at the last step, {f:.0%} of the peak (min_lr_ratio {m}) "
        "(the schedule of train/schedule.py, a property of the code: peak = the configured lr at step {w}, last "
        "step below 15% of the peak)",
        "学习率先 warm-up 再余弦衰减:线性升到峰值 {p:.1e}(第 {k} 步,warm-up {w} 步),然后降到最后一步的 "
        "{e:.1e},为峰值的 {f:.0%}(min_lr_ratio {m})(train/schedule.py 的调度,属于代码的性质:峰值等于配置的"
        "学习率且出现在第 {w} 步,最后一步低于峰值的 15%)",
        math.isclose(max(lrs), cfg.learning_rate) and peak_at == cfg.warmup_steps and lrs[-1] < 0.15 * max(lrs),
        p=max(lrs), k=peak_at, w=cfg.warmup_steps, e=lrs[-1], f=lrs[-1] / max(lrs), m=cfg.min_lr_ratio)


def plot(ctx: ExperimentContext, r: dict, base: dict) -> None:
    plt = ctx.plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.3), gridspec_kw={"width_ratios": [3, 2]})
    tokens = [s["tokens"] for s in r["steps"]]
    left.plot(tokens, [s["loss"] for s in r["steps"]], lw=0.8, alpha=0.6, label="training loss (one batch)")
    left.plot([e["tokens"] for e in r["evals"]], [e["val_loss"] for e in r["evals"]], "o-", label="held-out loss")
    left.axhline(base["uniform"], color="grey", ls="--", lw=0.8,
                 label=f"uniform over the vocab ({base['uniform']:.2f})")
    left.axhline(base["unigram"], color="#d62728", ls=":", lw=1, label=f"token unigram ({base['unigram']:.2f})")
    for s in r["samples"]:
        left.axvline(s["tokens"], color="k", lw=0.4, alpha=0.4)
    left.set_xlabel("tokens seen (vertical lines: where samples were taken)")
    left.set_ylabel("loss, nats per token")
    left.set_title("A short pretraining run")
    left.legend(fontsize=8)
    right.plot([s["step"] for s in r["steps"]], [s["lr"] for s in r["steps"]])
    right.set_xlabel("step")
    right.set_ylabel("learning rate")
    right.set_title("Warm-up, then cosine decay (train/schedule.py)")
    ctx.savefig(fig, "pretrain_run.png")


if __name__ == "__main__":
    main(__file__)
