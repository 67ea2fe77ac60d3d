"""Evaluation exp1: per-token perplexity vs bits per byte, across tokenizers.

Byte-level BPE tokenizers are trained (`train_tokenizer`, MiniMind's trainer) on the same text
with different vocabulary sizes. 259 is the 3 special tokens plus the 256 bytes and no merge:
a byte-level model, like the lab models of the earlier modules. The same small MiniMind model
is then pretrained with each tokenizer through the project's real `Trainer`, on the same bytes:
every step reads 8 windows of the same number of bytes (so a window holds fewer tokens when a
token covers more bytes), for the same number of steps.

All models are scored on the same held-out text with `minimind_notes.evaluate.perplexity`, the
function behind `minimind eval ppl`. It reports the mean loss per token, its exponential (the
perplexity) and bits per byte (the summed loss in bits divided by the bytes the tokens decode
to). Per-token numbers depend on how much text a token covers; bits per byte does not.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from minimind_notes.content import data_dir
from minimind_notes.data.datasets import TokenWindows
from minimind_notes.data.jsonl import write_jsonl
from minimind_notes.data.pretokenize import iter_documents, prepare
from minimind_notes.data.tokenizer import MiniMindTokenizer, default_tokenizer_dir, train_tokenizer
from minimind_notes.evaluate import perplexity
from minimind_notes.lab.byte_lm import corpus_text
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.lab.stage import run_stage

BATCH = 8


@contextmanager
def private_cache(folder: Path) -> Iterator[None]:
    """Tokenized corpora go to the experiment's folder, not the user's cache (~/.minimind/cache)."""
    old = os.environ.get("MINIMIND_CACHE")
    os.environ["MINIMIND_CACHE"] = str(folder)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MINIMIND_CACHE", None)
        else:
            os.environ["MINIMIND_CACHE"] = old


def first_documents(path: Path, max_bytes: int | None) -> list[str]:
    """Documents from the start of a pretraining file, up to about max_bytes of UTF-8 text."""
    docs, size = [], 0
    for text in iter_documents(path):
        docs.append(text)
        size += len(text.encode())
        if max_bytes and size >= max_bytes:
            break
    return docs


def train_point(vocab: int, docs: list[str], val_docs: list[str], files: dict[str, Path], settings: dict,
                seed: int, out: Path, precision: str) -> dict:
    """Tokenizer of `vocab` -> pretrain on windows of `window` bytes -> held-out loss, ppl, bpb."""
    tok = train_tokenizer(docs, out / f"tokenizer_{vocab}", vocab)
    text_bytes = sum(len(d.encode()) for d in val_docs)
    bytes_per_token = text_bytes / sum(len(ids) for ids in tok.encode_batch(val_docs))  # the text alone
    seq = max(8, round(settings["window"] / bytes_per_token))  # the same bytes per window for everyone
    run = run_stage("pretrain", out / f"vocab_{vocab}", tokenizer=str(out / f"tokenizer_{vocab}"),
                    data_path=str(files["train"]), val_path=str(files["val"]), max_steps=settings["steps"],
                    max_seq_len=seq, batch_size=BATCH, hidden_size=settings["hidden"], eval_batches=1,
                    seed=seed, from_weight="none", precision=precision)
    m = perplexity(run.model, run.tokenizer, files["val"], seq_len=seq, max_windows=10**7)
    scored, exact_bytes = scored_tokens_and_bytes(tok, files["val"], seq, out / "cache")
    bits = m["val_loss"] * scored / math.log(2)  # the summed loss of the held-out text, in bits
    return {"vocab": vocab, "bytes_per_token": bytes_per_token, "seq": seq, "loss": m["val_loss"],
            "ppl": m["val_ppl"], "bpb": m["val_bpb"], "exact_bytes_per_token": exact_bytes / scored,
            "bpb_exact": bits / exact_bytes, "bpb_from_ppl": math.log2(m["val_ppl"]) / (exact_bytes / scored),
            "counted_bytes": bits / m["val_bpb"], "exact_bytes": exact_bytes, "scored_tokens": scored,
            "params": run.summary.params, "train_loss": run.summary.train_loss}


def scored_tokens_and_bytes(tok: MiniMindTokenizer, path: Path, seq: int, cache: Path) -> tuple[int, int]:
    """The target tokens `perplexity` scores (every window's tokens after its first) and their exact bytes.

    A byte-level BPE token is a fixed byte string: one symbol of its name per byte, so its length is
    len(id_to_token). The special tokens count as their text, as in lm_metrics (MiniMindTokenizer.token_bytes)."""
    length = torch.tensor([len(tok.tok.id_to_token(i)) for i in range(tok.vocab_size)])
    windows = TokenWindows(prepare(path, tok, out_dir=cache).tokens, seq).all_windows()  # (N, seq + 1)
    targets = windows[:, 1:]
    return targets.numel(), int(length[targets].sum())


def spearman(a: list[float], b: list[float]) -> float:
    rank = lambda v: [sorted(v).index(x) for x in v]  # no ties among these numbers
    ra, rb = rank(a), rank(b)
    n = len(a)
    return 1 - 6 * sum((x - y) ** 2 for x, y in zip(ra, rb, strict=True)) / (n * (n * n - 1))


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # small matrices: one thread is fastest and steady on a busy CPU
    settings = (dict(vocabs=[259, 512, 6400], steps=70, window=128, hidden=64, train_bytes=400_000,
                     val_bytes=30_000) if ctx.quick else
                dict(vocabs=[259, 512, 2048, 6400], steps=300, window=256, hidden=128, train_bytes=None,
                     val_bytes=None))
    docs = first_documents(data_dir() / "pretrain.jsonl", settings["train_bytes"])
    val_docs = first_documents(data_dir() / "pretrain_val.jsonl", settings["val_bytes"])
    files = {"train": write_jsonl(ctx.out_dir / "text" / "train.jsonl", [{"text": d} for d in docs]),
             "val": write_jsonl(ctx.out_dir / "text" / "heldout.jsonl", [{"text": d} for d in val_docs])}
    val_bytes = sum(len(d.encode()) for d in val_docs)
    ctx.log("Tokenizers and models trained on {a:,} bytes; every model: hidden {h}, 2 layers, {s} steps of "
            "{b} windows of about {w} bytes (seed {seed}). Held-out text: {v:,} bytes.",
            "分词器和模型都在同样的 {a:,} 字节上训练;每个模型:hidden {h}、2 层、{s} 步,每步 {b} 个约 {w} 字节的"
            "窗口(种子 {seed})。验证文本:{v:,} 字节。", a=sum(len(d.encode()) for d in docs),
            h=settings["hidden"], s=settings["steps"], b=BATCH, w=settings["window"], seed=ctx.seed, v=val_bytes)
    shipped = MiniMindTokenizer.from_dir(default_tokenizer_dir())
    for lang in ("en", "zh"):  # the tokenizer this project ships, on the held-out text of each language
        text = corpus_text("val", lang)
        tokens = sum(len(ids) for ids in shipped.encode_batch(text.split("\n")))
        ctx.metric(f"shipped_chars_per_token_{lang}", len(text) / tokens)
        ctx.metric(f"shipped_bytes_per_token_{lang}", len(text.encode()) / tokens)
    ctx.log("The shipped tokenizer ({v:,} tokens) on held-out text: {ce:.2f} characters ({be:.2f} bytes) per token "
            "in English, {cz:.2f} characters ({bz:.2f} bytes) per token in Chinese.",
            "项目自带的分词器({v:,} 个 token)在验证文本上:英文每 token {ce:.2f} 个字符({be:.2f} 字节),"
            "中文每 token {cz:.2f} 个字符({bz:.2f} 字节)。", v=shipped.vocab_size,
            ce=ctx.metrics["shipped_chars_per_token_en"], be=ctx.metrics["shipped_bytes_per_token_en"],
            cz=ctx.metrics["shipped_chars_per_token_zh"], bz=ctx.metrics["shipped_bytes_per_token_zh"])
    with private_cache(ctx.out_dir / "cache"):
        rows = [train_point(v, docs, val_docs, files, settings, ctx.seed, ctx.out_dir, ctx.precision)
                for v in settings["vocabs"]]
    ctx.metric("results", rows)
    for key in ("bytes_per_token", "ppl", "bpb"):  # flat lists, one value per vocabulary: quoted by the text
        ctx.metric(key, [r[key] for r in rows])
    ctx.table({"en": f"The same model and bytes, {len(rows)} ways of cutting text into tokens (259 = byte-level); "
                     "scored on the same held-out text",
               "zh": f"同一个模型、同样的字节,{len(rows)} 种切分 token 的方式(259 即字节级);在同一段验证文本上评估"},
              ["vocab", "bytes/token", "tokens/window", "loss (nats/token)", "perplexity / token",
               "uniform guess ppl", "bits per byte", "bpb, exact bytes", "uniform guess bpb"],
              [[r["vocab"], r["bytes_per_token"], r["seq"], r["loss"], r["ppl"], r["vocab"], r["bpb"],
                r["bpb_exact"], math.log2(r["vocab"]) / r["bytes_per_token"]] for r in rows])
    findings(ctx, rows)
    plot(ctx, rows)


def findings(ctx: ExperimentContext, rows: list[dict]) -> None:
    bpt = [r["bytes_per_token"] for r in rows]
    ctx.code_fact(
        "The byte-level vocabulary (259) spends exactly one token per byte: {b0:.2f} bytes per token",
        "字节级词表(259)每个字节正好一个 token:每 token {b0:.2f} 字节",
        Bar({"en": "|byte-level bytes per token - 1|", "zh": "|字节级每 token 字节数 - 1|"},
            abs(bpt[0] - 1), "<=", 1e-9), b0=bpt[0])
    ctx.finding(
        "A bigger vocabulary cuts the same text into fewer, longer tokens: {b} bytes per token for vocabularies "
        "{v}",
        "词表越大,同一段文本被切成越少、越长的 token:词表 {v} 对应每 token {b} 字节",
        [Bar({"en": "smallest rise per size step", "zh": "逐级最小的增幅"},
             min(b - a for a, b in itertools.pairwise(bpt)), ">", 0),
         Bar({"en": "largest bytes per token", "zh": "最大的每 token 字节数"}, bpt[-1], ">", 3)],
        b=" / ".join(f"{x:.2f}" for x in bpt), v=" / ".join(str(r["vocab"]) for r in rows))
    ppl = [r["ppl"] for r in rows]
    bpb = [r["bpb"] for r in rows]
    rho = spearman(ppl, bpb)
    lowest_ppl = min(rows, key=lambda r: r["ppl"])
    lowest_bpb = min(rows, key=lambda r: r["bpb"])
    place = 1 + sum(x < lowest_ppl["bpb"] for x in bpb)  # the lowest-perplexity model's place by bits per byte
    ctx.finding(
        "Per-token perplexity and bits per byte disagree about which model is best: perplexity {p} ranks the "
        "vocab-{lp} model first, bits per byte {q} ranks it in place {k} of {n} and the vocab-{lb} model first",
        "每 token 困惑度和每字节比特数对哪个模型最好意见相反:困惑度 {p} 把词表 {lp} 的模型排第一,"
        "每字节比特数 {q} 却把它排在 {n} 个中的第 {k} 位,排第一的是词表 {lb} 的模型",
        [Bar({"en": "rank correlation", "zh": "秩相关"}, rho, "<", 0),
         Bar({"en": "lowest-perplexity model's bpb minus the lowest bpb", "zh": "困惑度最低模型的 bpb 减去最低 bpb"},
             lowest_ppl["bpb"] - lowest_bpb["bpb"], ">", 0.1)], p=" / ".join(f"{x:.1f}" for x in ppl),
        q=" / ".join(f"{x:.3f}" for x in bpb), lp=lowest_ppl["vocab"], lb=lowest_bpb["vocab"], k=place,
        n=len(rows), rho=rho)
    ppl_spread, bpb_spread = max(ppl) / min(ppl), max(bpb) / min(bpb)
    ctx.code_fact(
        "Perplexity spreads {ps:.1f}x from the lowest to the highest, bits per byte {bs:.2f}x: most of the "
        "perplexity gap is the token length, since log2(ppl) = bpb x bytes per token (check: ppl spread > 3x "
        "the bpb spread)",
        "困惑度从最低到最高相差 {ps:.1f} 倍,每字节比特数只差 {bs:.2f} 倍:困惑度的差距大半来自 token 的长度,"
        "因为 log2(ppl) = bpb x 每 token 字节数(检验:困惑度的倍数 > bpb 倍数的 3 倍)",
        ppl_spread > 3 * bpb_spread, ps=ppl_spread, bs=bpb_spread)
    gap = [abs(r["bpb_from_ppl"] / r["bpb"] - 1) for r in rows]
    ctx.code_fact(
        "Converting: log2(perplexity) / (bytes per scored token) = {f} bits per byte, counting each token's exact "
        "bytes (bos and eos count as their text); lm_metrics reports {q} (the formula, a property of the code: "
        "every pair within 0.1%)",
        "换算:log2(困惑度) / 每个被评分 token 的字节数 = {f} 比特/字节,这里按每个 token 的精确字节数来数"
        "(bos、eos 按其文字计);lm_metrics 报告的是 {q}(这是公式,属于代码的性质:每一对相差都 < 0.1%)",
        max(gap) < 1e-3, f=" / ".join(f"{r['bpb_from_ppl']:.3f}" for r in rows),
        q=" / ".join(f"{x:.3f}" for x in bpb))


def plot(ctx: ExperimentContext, rows: list[dict]) -> None:
    plt = ctx.plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    names = [str(r["vocab"]) for r in rows]
    left.bar(names, [r["ppl"] for r in rows], color="tab:orange")
    left.set_yscale("log")
    left.set_xlabel("vocabulary size")
    left.set_ylabel("perplexity per token (log scale)")
    right.bar(names, [r["bpb"] for r in rows], color="tab:blue")
    right.set_xlabel("vocabulary size")
    right.set_ylabel("bits per byte")
    for ax, key in ((left, "ppl"), (right, "bpb")):
        for i, r in enumerate(rows):
            ax.annotate(f"{r[key]:.2f}\n{r['bytes_per_token']:.2f} B/tok", (i, r[key]), ha="center",
                        va="bottom", fontsize=8)
    fig.suptitle("Same model, same bytes: per-token perplexity vs bits per byte")
    ctx.savefig(fig, "ppl_vs_bpb.png")


if __name__ == "__main__":
    main(__file__)
