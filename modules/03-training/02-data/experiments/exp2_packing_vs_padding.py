"""Data exp2: packing vs padding the same pretraining documents.

The embedded pretraining corpus is tokenized once by the project's `prepare` (pretokenize.py): every
document becomes <|im_start|> + its ids + <|im_end|>, and the documents are written back to back into
one uint16 stream. Two ways to cut that into batches:

    padding  one document per row, right-padded to the longest row of its batch (`pad_batch`: pad id,
             label -100), so no document is cut and no row sees another document;
    packing  fixed windows of T + 1 tokens of the stream (`TokenWindows`), every position real, documents
             joined by their end token.

(a) How long the documents are. (b) The share of positions that are padding, by batch size, for
random batches, length-sorted batches and packing. (c) Right padding costs compute only: a padded
row's loss equals the same document's loss alone. (d) The useful share of the positions each step
computes (counted, and checked), and the training throughput of a small MiniMind model in useful
tokens per second (positions with a target), the two strategies timed step by step in alternation
(reported: a busy machine moves a timing). (e) What packing costs instead: windows that mix
documents or start mid-document.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from minimind_notes.content import data_dir
from minimind_notes.data.datasets import IGNORE, SFTExample, TokenWindows, pad_batch
from minimind_notes.data.pretokenize import prepare
from minimind_notes.data.tokenizer import MiniMindTokenizer
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.model import MiniMindConfig, MiniMindForCausalLM
from minimind_notes.train.optim import build_adamw

T = 256  # the pretraining stage's max_seq_len (train/config.py)
BATCH = 8  # rows per step in the throughput run
BATCH_SIZES = [1, 4, 16, 64]
WARMUP = 1  # untimed first step of each strategy


# -- the data ------------------------------------------------------------------------------------
def packed_stream(tok: MiniMindTokenizer) -> tuple[np.ndarray, dict]:
    """The whole corpus through `prepare`, in a throwaway cache folder (always a fresh build)."""
    with tempfile.TemporaryDirectory() as tmp:
        packed = prepare(data_dir() / "pretrain.jsonl", tok, out_dir=Path(tmp))
        return np.array(packed.tokens), packed.meta  # copy out of the memmap before the folder goes


def split_documents(stream: np.ndarray, bos: int) -> list[np.ndarray]:
    """The packed stream cut back into its documents: each one starts with a BOS."""
    starts = np.flatnonzero(stream == bos)
    return np.split(stream, starts[1:])


def padded_batches(docs: list[np.ndarray], batch: int, order: np.ndarray, pad_id: int, limit: int) -> list[tuple]:
    """The first `limit` batches of whole documents in `order`, right-padded by the project's pad_batch."""
    out = []
    for i in range(0, min(len(order) - batch + 1, limit * batch), batch):
        rows = [docs[j].tolist() for j in order[i:i + batch]]
        out.append(pad_batch([SFTExample(r, r) for r in rows], pad_id))  # labels = ids; pads get -100
    return out


def pad_share(lengths: np.ndarray, batch: int, order: np.ndarray) -> float:
    """Share of padding when every batch of `batch` documents in `order` is padded to its longest:
    the same count pad_batch produces, from the lengths alone (fast for thousands of batches)."""
    n = len(order) // batch * batch
    rows = lengths[order[:n]].reshape(-1, batch)  # (batches, batch)
    positions = rows.max(1).sum() * batch
    return float(1 - rows.sum() / positions)


def pad_shares(lengths: np.ndarray, seed: int) -> dict:
    random = np.random.default_rng(seed).permutation(len(lengths))
    by_length = np.argsort(lengths, kind="stable")
    return {b: {"random": pad_share(lengths, b, random), "sorted": pad_share(lengths, b, by_length)}
            for b in BATCH_SIZES}


# -- (c) padding changes nothing for the real tokens --------------------------------------------------
@torch.no_grad()
def padding_is_invisible(model: MiniMindForCausalLM, ids: torch.Tensor, labels: torch.Tensor) -> float:
    """Largest |loss of a padded row - loss of the same document alone| over the rows of one batch."""
    model.eval()
    logits = model(ids).logits[:, :-1]  # (B, W-1, V)
    worst = 0.0
    for row in range(len(ids)):
        n = int((labels[row] != IGNORE).sum())
        padded = F.cross_entropy(logits[row], labels[row, 1:], ignore_index=IGNORE)
        alone = model(ids[row:row + 1, :n], labels=ids[row:row + 1, :n]).loss
        worst = max(worst, abs(float(padded - alone)))
    return worst


# -- (d) throughput ------------------------------------------------------------------------------------
def small_model(vocab: int, seed: int) -> MiniMindForCausalLM:
    torch.manual_seed(seed)
    return MiniMindForCausalLM(MiniMindConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                              num_key_value_heads=1, vocab_size=vocab))


def train_step(model: MiniMindForCausalLM, opt: torch.optim.Optimizer, ids: torch.Tensor,
               labels: torch.Tensor) -> tuple[float, int, float]:
    """One optimizer step: (seconds, useful tokens = positions with a target, loss)."""
    start = time.perf_counter()
    loss = model(ids, labels=labels).loss
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return time.perf_counter() - start, int((labels[:, 1:] != IGNORE).sum()), loss.item()


def throughput(docs: list[np.ndarray], stream: np.ndarray, vocab: int, pad_id: int, steps: int,
               seed: int) -> dict:
    """The same model and optimizer settings, one step of each strategy in turn (so both see the same
    load on a shared CPU). The first WARMUP steps are not timed; rates are medians over the timed steps."""
    order = np.random.default_rng(seed).permutation(len(docs))
    padded = padded_batches(docs, BATCH, order, pad_id, steps + WARMUP)
    windows = TokenWindows(stream, T, seed)
    runs = {name: {"model": small_model(vocab, seed), "steps": []} for name in ("padding", "packing")}
    for run in runs.values():
        run["opt"], _ = build_adamw(run["model"].parameters(), 1e-3, torch.device("cpu"))
        run["model"].train()
    for step in range(steps + WARMUP):
        for name, run in runs.items():
            if name == "padding":
                ids, labels = padded[step]
            else:
                ids = windows.next_batch(BATCH)  # (B, T+1): every position real
                labels = ids
            seconds, tokens, _ = train_step(run["model"], run["opt"], ids, labels)
            if step >= WARMUP:
                run["steps"].append((seconds, tokens, ids.numel()))
    out = {}
    for name, run in runs.items():
        sec, tok, pos = (np.array(v, dtype=float) for v in zip(*run["steps"], strict=True))
        out[name] = {"tokens_per_s": float(np.median(tok / sec)), "positions_per_s": float(np.median(pos / sec)),
                     "useful_share": float(tok.sum() / pos.sum()), "steps": steps, "seconds": float(sec.sum())}
    return out


# -- (e) what packing costs ------------------------------------------------------------------------------
def packing_costs(stream: np.ndarray, bos: int) -> dict:
    windows = TokenWindows(stream, T)
    batch = windows.all_windows().numpy()  # (N, T+1) every window in order
    is_bos = batch == bos
    # a target at position t sees another document when a BOS sits anywhere in 1..t of its window
    seen = np.cumsum(is_bos[:, 1:-1], axis=1) > 0  # (N, T-1): positions 1..T-1
    mixed_targets = int(seen.sum())
    return {"windows": len(batch), "with_boundary": float(is_bos[:, 1:].any(1).mean()),
            "mid_document_start": float((~is_bos[:, 0]).mean()), "targets_seeing_other_doc": mixed_targets /
            (len(batch) * T), "dropped_tail": len(stream) - windows.n_windows * T}


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # small matrices: one thread is steady on a busy CPU
    tok = MiniMindTokenizer.from_dir()
    stream, meta = packed_stream(tok)
    docs = split_documents(stream, tok.bos_token_id)
    lengths = np.array([len(d) for d in docs])
    ctx.metric("documents", len(docs))
    ctx.metric("stream_tokens", len(stream))
    ctx.metric("doc_lengths", {"min": int(lengths.min()), "median": float(np.median(lengths)),
                               "mean": float(lengths.mean()), "max": int(lengths.max()),
                               "shorter_than_T": float((lengths < T + 1).mean())})
    ctx.metric("doc_tokens_min", int(lengths.min()))  # flat keys: the numbers the teaching text quotes
    ctx.metric("doc_tokens_max", int(lengths.max()))
    ctx.metric("doc_tokens_mean", float(lengths.mean()))
    ctx.log("prepare() packed {d} documents into one stream of {n:,} tokens (uint16), each document "
            "<|im_start|> ... <|im_end|>.",
            "prepare() 把 {d} 篇文档打包成一条 {n:,} 个 token 的流(uint16),每篇文档都是 <|im_start|> ... <|im_end|>。",
            d=meta["documents"], n=meta["tokens"])
    shares = ctx.metric("pad_share", pad_shares(lengths, ctx.seed))
    ctx.metric("pad_share_random_16", shares[16]["random"])
    ctx.metric("pad_share_sorted_16", shares[16]["sorted"])
    costs = ctx.metric("packing_costs", packing_costs(stream, tok.bos_token_id))
    order = np.random.default_rng(ctx.seed).permutation(len(docs))
    ids, labels = padded_batches(docs, BATCH, order, tok.pad_token_id, 1)[0]
    invisible = ctx.metric("padded_vs_alone_max_diff",
                           padding_is_invisible(small_model(tok.vocab_size, ctx.seed), ids, labels))
    speed = ctx.metric("throughput", throughput(docs, stream, tok.vocab_size, tok.pad_token_id,
                                                5 if ctx.quick else 40, ctx.seed))
    tables(ctx, lengths, shares, speed, costs)
    findings(ctx, tok, docs, stream, meta, lengths, shares, invisible, speed, costs)
    plot(ctx, lengths, shares, speed)


def tables(ctx: ExperimentContext, lengths: np.ndarray, shares: dict, speed: dict, costs: dict) -> None:
    q = np.percentile(lengths, [0, 10, 50, 90, 100])
    ctx.table({"en": "(a) Document lengths in tokens (with <|im_start|> and <|im_end|>)",
               "zh": "(a) 文档长度(token 数,含 <|im_start|> 和 <|im_end|>)"},
              ["documents", "min", "10%", "median", "90%", "max", "mean", f"share <= {T + 1} (one window)"],
              [[len(lengths), *[float(v) for v in q], float(lengths.mean()), float((lengths <= T + 1).mean())]])
    ctx.table({"en": "(b) Share of positions that are padding", "zh": "(b) padding 占全部位置的比例"},
              ["batch size", "padding, random batches", "padding, length-sorted batches", "packing"],
              [[b, s["random"], s["sorted"], 0.0] for b, s in shares.items()])
    ctx.table({"en": f"(d) Training a small MiniMind (hidden 64, 2 layers), batch {BATCH}, "
                     f"{speed['packing']['steps']} timed steps each",
               "zh": f"(d) 训练一个小 MiniMind(hidden 64,2 层),batch {BATCH},各计时 {speed['packing']['steps']} 步"},
              ["strategy", "positions/s", "share of positions with a target", "useful tokens/s"],
              [[k, v["positions_per_s"], v["useful_share"], v["tokens_per_s"]] for k, v in speed.items()])
    ctx.table({"en": f"(e) What packing into {T + 1}-token windows costs instead",
               "zh": f"(e) 打包成 {T + 1} token 的窗口,代价在别处"},
              ["windows", "with a document boundary", "starting mid-document", "targets that see another document",
               "tokens left over at the end"],
              [[costs["windows"], costs["with_boundary"], costs["mid_document_start"],
                costs["targets_seeing_other_doc"], costs["dropped_tail"]]])


def findings(ctx: ExperimentContext, tok: MiniMindTokenizer, docs: list[np.ndarray], stream: np.ndarray, meta: dict,
             lengths: np.ndarray, shares: dict, invisible: float, speed: dict, costs: dict) -> None:
    unframed = sum(not (d[0] == tok.bos_token_id and d[-1] == tok.eos_token_id) for d in docs)
    ratio = ctx.metric("longest_over_median", float(lengths.max() / np.median(lengths)))
    ctx.finding(
        "The packed stream is the documents back to back: {n} documents of {lo} to {hi} tokens (median {med:.0f}), "
        "each one <|im_start|> ... <|im_end|>, {tot:,} tokens in all, as many documents as prepare counted; the "
        "longest is {r:.1f}x the median",
        "打包后的流就是一篇接一篇的文档:{n} 篇,每篇 {lo} 到 {hi} 个 token(中位数 {med:.0f}),都以 <|im_start|> "
        "开头、<|im_end|> 结尾,共 {tot:,} 个 token,篇数与 prepare 的统计相同;最长的是中位数的 {r:.1f} 倍",
        [Bar({"en": "documents not framed or not counted", "zh": "缺首尾标记或未计入的文档"},
             unframed + abs(len(docs) - meta["documents"]), "<=", 0),
         Bar({"en": "longest / median", "zh": "最长 / 中位数"}, ratio, ">", 1.5)],
        n=len(docs), lo=int(lengths.min()), hi=int(lengths.max()), med=float(np.median(lengths)), tot=len(stream),
        r=ratio)
    rnd = [shares[b]["random"] for b in BATCH_SIZES]
    ctx.finding(
        "Padding to the longest row wastes more as batches grow: {p} of the positions are padding at batch size "
        "{bs} (random order); sorting by length cuts batch 16 from {r16:.1%} to {s16:.1%}. Packing has no padding",
        "补齐到最长的一行,batch 越大浪费越多:batch 大小为 {bs} 时(随机顺序),padding 分别占 {p};按长度排序后,"
        "batch 16 的 padding 从 {r16:.1%} 降到 {s16:.1%}。打包则完全没有 padding",
        [Bar({"en": "smallest rise from one batch size to the next", "zh": "相邻 batch 大小之间最小的增幅"},
             min(b - a for a, b in zip(rnd, rnd[1:], strict=False)), ">", 0),
         Bar({"en": "padding at batch 16", "zh": "batch 16 的 padding"}, shares[16]["random"], ">", 0.2),
         Bar({"en": "sorted / random at 16", "zh": "排序 / 随机(batch 16)"},
             shares[16]["sorted"] / shares[16]["random"], "<", 0.5)],
        p=" / ".join(f"{v:.1%}" for v in rnd), bs=" / ".join(map(str, BATCH_SIZES)), r16=shares[16]["random"],
        s16=shares[16]["sorted"])
    ctx.code_fact(
        "Right padding costs compute, not correctness: each row's loss in a padded batch equals the same "
        "document's loss alone to {d:.1e}, because causal attention never looks right and the pads' labels are -100",
        "右侧 padding 只花算力,不影响结果:padded batch 中每一行的 loss 与这篇文档单独计算时相差不超过 {d:.1e},"
        "因为因果 attention 从不往右看,而 pad 的 label 是 -100",
        Bar({"en": "largest |difference| (nats)", "zh": "最大 |差值|(nats)"}, invisible, "<", 1e-4), d=invisible)
    pad, pack = speed["padding"], speed["packing"]
    share_ratio = ctx.metric("useful_share_ratio", pack["useful_share"] / pad["useful_share"])
    ctx.finding(
        "Packing gives a target to {ub:.1%} of the positions a step computes vs {ua:.1%} when padding: {s:.2f}x the "
        "useful tokens per position (counted over the timed steps). Timed with the steps interleaved (batch {n}, same "
        "model): {ratio:.2f}x as many useful tokens per second, {b:,.0f} vs {a:,.0f}, at {pb:,.0f} vs {pa:,.0f} "
        "positions per second (reported, not checked: other processes move a timing)",
        "打包时一步计算的位置里有 {ub:.1%} 带目标,padding 只有 {ua:.1%}:每个位置的有效 token 是 {s:.2f} 倍"
        "(在计时的各步上计数)。两种做法逐步交替计时(batch {n},同一模型):每秒有效 token 是 "
        "{ratio:.2f} 倍,{b:,.0f} 对 {a:,.0f},每秒处理的位置 {pb:,.0f} 对 {pa:,.0f}"
        "(只报告、不作检验:其他进程会影响耗时)",
        Bar({"en": "useful tokens per position, packing / padding", "zh": "每个位置的有效 token,打包 / padding"},
            share_ratio, ">", 1.2),
        s=share_ratio, ratio=pack["tokens_per_s"] / pad["tokens_per_s"],
        a=pad["tokens_per_s"], b=pack["tokens_per_s"], n=BATCH, pa=pad["positions_per_s"],
        pb=pack["positions_per_s"], ua=pad["useful_share"], ub=pack["useful_share"])
    ctx.finding(
        "Packing pays elsewhere: {wb:.0%} of the {w} windows hold a document boundary and {mid:.0%} start in the "
        "middle of a document, so {seen:.0%} of the targets are predicted with another document in view (no mask "
        "separates them; <|im_end|> and <|im_start|> mark the seam). Most windows hold a boundary because the "
        "median document ({med:.0f} tokens) is shorter than a window ({t})",
        "打包的代价在别处:{w} 个窗口中有 {wb:.0%} 含有文档边界,{mid:.0%} 从某篇文档的中间开始,因此有 {seen:.0%} "
        "的目标是在能看到另一篇文档的情况下预测的(没有 mask 把它们隔开,只靠 <|im_end|> 和 <|im_start|> 标出接缝)。"
        "大多数窗口含有边界,因为文档长度的中位数({med:.0f} 个 token)比一个窗口({t})短",
        [Bar({"en": "windows with a boundary", "zh": "含边界的窗口占比"}, costs["with_boundary"], ">", 0.5),
         Bar({"en": "median document, tokens", "zh": "文档长度中位数(token)"}, float(np.median(lengths)), "<", T + 1)],
        wb=costs["with_boundary"], w=costs["windows"], mid=costs["mid_document_start"],
        seen=costs["targets_seeing_other_doc"], med=float(np.median(lengths)), t=T + 1)


def plot(ctx: ExperimentContext, lengths: np.ndarray, shares: dict, speed: dict) -> None:
    plt = ctx.plt
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(14, 4))
    a.hist(lengths, bins=40, color="#6baed6", edgecolor="white")
    a.axvline(T + 1, color="k", ls="--", lw=1, label=f"one packed window ({T + 1})")
    a.axvline(np.median(lengths), color="#d62728", lw=1, label=f"median ({np.median(lengths):.0f})")
    a.set_xlabel("document length, tokens")
    a.set_ylabel("documents")
    a.set_title("(a) Pretraining documents")
    a.legend(fontsize=8)
    b.plot(BATCH_SIZES, [shares[s]["random"] for s in BATCH_SIZES], "o-", label="padding, random batches")
    b.plot(BATCH_SIZES, [shares[s]["sorted"] for s in BATCH_SIZES], "s--", label="padding, length-sorted")
    b.plot(BATCH_SIZES, [0.0] * len(BATCH_SIZES), "^-", label="packing")
    b.set_xscale("log", base=2)
    b.set_xticks(BATCH_SIZES, [str(v) for v in BATCH_SIZES])
    b.set_xlabel("batch size")
    b.set_ylabel("share of positions that are padding")
    b.set_title("(b) Padding grows with the batch")
    b.legend(fontsize=8)
    names = list(speed)
    bars = c.bar(names, [speed[n]["tokens_per_s"] for n in names], color=["#bbbbbb", "#31a354"])
    c.bar_label(bars, fmt="%.0f")
    c.set_ylabel("useful tokens per second (positions with a target)")
    c.set_title(f"(d) Training a small MiniMind, batch {BATCH}")
    ctx.savefig(fig, "packing_vs_padding.png")


if __name__ == "__main__":
    main(__file__)
