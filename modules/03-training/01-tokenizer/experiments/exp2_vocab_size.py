"""Tokenizer exp2: what does the vocabulary size buy, and what does it cost?

Byte-level BPE tokenizers are trained with Hugging Face `tokenizers` (the trainer behind
`minimind tokenizer train`) on the embedded pretraining corpus at vocabulary sizes from 300
(the 3 special tokens, the 256 bytes and 41 merges) to MiniMind's 6400 and beyond. On held-out
text, English and Chinese measured separately:

- compression: UTF-8 bytes per token and characters per token, and how many characters a
  256-token training window (this project's default max_seq_len) then holds;
- for English, the share of held-out words (pre-tokens) that became a single token.

On the model side: the embedding matrix of MiniMind2-small is vocab x 512, and lm_head shares
it (tied weights); we count it on the real model for every size, with its share of all
parameters. And how often each learned token occurs in the training text: a token that is
rarely seen gives its embedding row few updates. The shipped tokenizer (data/tokenizer) is
measured the same way.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from itertools import pairwise

import numpy as np
import torch

from minimind_notes.content import data_dir
from minimind_notes.data.bpe_scratch import pretokenize
from minimind_notes.data.pretokenize import iter_documents
from minimind_notes.data.tokenizer import SPECIAL_TOKENS, MiniMindTokenizer, train_hf_bpe
from minimind_notes.lab.byte_lm import corpus_text
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.model import MiniMindForCausalLM, preset

SIZES = [300, 1000, 2000, 4000, 6400]
EXTRA_SIZES = [500, 8000, 12800]  # full mode only
WINDOW = 256  # tokens per training window: minimind train's default max_seq_len
RARE = 10  # a learned token seen fewer times than this in the training text counts as rare
LEARNED_FROM = len(SPECIAL_TOKENS) + 256  # ids below this are special tokens and bytes


def compression(encode, held: dict[str, str], en_words: list[str]) -> dict:  # text -> ids
    """Bytes and characters per token on each held-out text; share of English words that are one token."""
    out = {}
    for lang, text in held.items():
        n = len(encode(text))
        out[lang] = {"bytes_per_token": len(text.encode()) / n, "chars_per_token": len(text) / n, "tokens": n}
    distinct = Counter(en_words)
    single = sum(c for w, c in distinct.items() if len(encode(w)) == 1)
    out["en_single_token_words"] = single / len(en_words)
    return out


def token_usage(tok, docs: list[str]) -> dict:
    """Shares of the learned tokens (not bytes, not special) that occur 0 and fewer than RARE times in the
    encoded `docs`. A token that is only a step towards longer ones (' M' before ' Mia') may never occur."""
    encode = getattr(tok, "encode_batch_fast", tok.encode_batch)  # no offsets: faster (tokenizers >= 0.21)
    ids = np.concatenate([np.asarray(e.ids, dtype=np.int64) for e in encode(docs, add_special_tokens=False)])
    counts = np.bincount(ids, minlength=tok.get_vocab_size())[LEARNED_FROM:]
    return {"never": float((counts == 0).mean()), "rare": float((counts < RARE).mean())}


def distinct_words(docs: list[str]) -> int:
    """Distinct pre-tokens, split by tokenizers' ByteLevel pre-tokenizer (the same split as pretokenize, in Rust)."""
    from tokenizers import pre_tokenizers

    split = pre_tokenizers.ByteLevel(add_prefix_space=False).pre_tokenize_str
    return len({piece for doc in docs for piece, _ in split(doc)})


def embedding_cost(vocab_size: int, name: str = "minimind2-small") -> dict:
    """Counted on the preset built with this vocabulary (meta device: shapes only, no memory)."""
    with torch.device("meta"):
        model = MiniMindForCausalLM(preset(name, vocab_size=vocab_size))
    embed = model.model.embed_tokens.weight
    return {"embedding": embed.numel(), "total": model.num_parameters(), "hidden": model.config.hidden_size,
            "tied": model.lm_head.weight is embed}


def run(ctx: ExperimentContext) -> None:
    docs = list(iter_documents(data_dir() / "pretrain.jsonl"))
    if ctx.quick:  # a seed-chosen half of the documents
        docs = random.Random(ctx.seed).sample(docs, len(docs) // 2)
    sizes = SIZES if ctx.quick else sorted(SIZES + EXTRA_SIZES)
    held = {"en": corpus_text("val", "en"), "zh": corpus_text("val", "zh")}
    en_words = pretokenize(held["en"])
    train_en_words = distinct_words([d for d in docs if not _is_zh(d)])
    ctx.log("Training {n} tokenizers on {d:,} documents ({b:,} bytes); held-out: {e:,} bytes English, "
            "{z:,} bytes Chinese. The English training text has {w:,} distinct words (pre-tokens).",
            "在 {d:,} 篇文档({b:,} 字节)上训练 {n} 个 tokenizer;验证集:英文 {e:,} 字节,中文 {z:,} 字节。"
            "英文训练文本只有 {w:,} 个不同的词(pre-token)。",
            n=len(sizes), d=len(docs), b=sum(len(d.encode()) for d in docs), e=len(held["en"].encode()),
            z=len(held["zh"].encode()), w=train_en_words)

    results = {}
    for v in sizes:
        start = time.perf_counter()
        tok = train_hf_bpe(docs, v)
        seconds = time.perf_counter() - start
        encode = lambda text, tok=tok: tok.encode(text).ids
        results[v] = {**compression(encode, held, en_words), **token_usage(tok, docs), "seconds": seconds,
                      "vocab": tok.get_vocab_size(), **embedding_cost(tok.get_vocab_size())}
    shipped_tok = MiniMindTokenizer.from_dir()
    shipped = compression(shipped_tok.encode, held, en_words)
    shipped["vocab"] = shipped_tok.vocab_size
    ctx.metric("by_vocab", {str(v): r for v, r in results.items()})
    ctx.metric("shipped", shipped)

    ctx.table({"en": "Held-out compression by vocabulary size (bytes/token and characters/token)",
               "zh": "不同词表大小在验证集上的压缩率(字节/token 与 字符/token)"},
              ["vocab", "en bytes/tok", "en chars/tok", "zh bytes/tok", "zh chars/tok",
               "en words = 1 token", f"en chars per {WINDOW} tok", f"zh chars per {WINDOW} tok"],
              [[name, r["en"]["bytes_per_token"], r["en"]["chars_per_token"], r["zh"]["bytes_per_token"],
                r["zh"]["chars_per_token"], r["en_single_token_words"], WINDOW * r["en"]["chars_per_token"],
                WINDOW * r["zh"]["chars_per_token"]]
               for name, r in [*((str(v), r) for v, r in results.items()), ("shipped", shipped)]])
    ctx.table({"en": "The cost side: MiniMind2-small's embedding (tied with lm_head) and rarely seen tokens",
               "zh": "代价一侧:MiniMind2-small 的 embedding(与 lm_head 共享)与很少出现的 token"},
              ["vocab", "embedding = vocab x 512", "model parameters", "embedding share",
               "learned tokens never seen alone", f"learned tokens seen < {RARE}x", "training seconds"],
              [[v, r["embedding"], r["total"], r["embedding"] / r["total"], r["never"], r["rare"], r["seconds"]]
               for v, r in results.items()])
    tiny = embedding_cost(shipped["vocab"], "tiny")
    ctx.metric("tiny_preset_embedding", tiny)
    ctx.log("The same {v}-token embedding in the tiny preset (hidden {h}) that `minimind train` uses by default: "
            "{e:,} of {t:,} parameters, {s:.1%}.",
            "同样 {v} 个 token 的 embedding 放在 `minimind train` 默认使用的 tiny 预设(hidden {h})里:"
            "{t:,} 个参数中占 {e:,} 个,即 {s:.1%}。",
            v=shipped["vocab"], h=tiny["hidden"], e=tiny["embedding"], t=tiny["total"],
            s=tiny["embedding"] / tiny["total"])
    findings(ctx, results, shipped, train_en_words)
    plot(ctx, results, shipped)


def _is_zh(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text[:50])  # as corpus_text splits the languages


def findings(ctx: ExperimentContext, results: dict, shipped: dict, train_en_words: int) -> None:
    sizes = list(results)
    lo, ref = sizes[0], 6400
    bpt = {lang: [results[v][lang]["bytes_per_token"] for v in sizes] for lang in ("en", "zh")}
    rise = min(b / a for lang in bpt for a, b in pairwise(bpt[lang]))  # > 1: rising at every size
    gain = {lang: results[ref][lang]["bytes_per_token"] / results[lo][lang]["bytes_per_token"] for lang in bpt}
    ctx.finding(
        "A bigger vocabulary compresses more: from {lo} to {ref} tokens, held-out English goes from {e0:.2f} to "
        "{e1:.2f} bytes per token ({ge:.1f}x) and Chinese from {z0:.2f} to {z1:.2f} ({gz:.1f}x), rising at every "
        "size in both languages",
        "词表越大压缩越多:从 {lo} 到 {ref} 个 token,验证集英文从每 token {e0:.2f} 字节升到 {e1:.2f}"
        "({ge:.1f} 倍),中文从 {z0:.2f} 升到 {z1:.2f}({gz:.1f} 倍),两种语言在每个大小上都上升",
        [Bar({"en": "smallest gain from one size to the next (x)", "zh": "相邻大小之间的最小增幅(倍)"}, rise, ">", 1),
         Bar({"en": f"smaller gain from {lo} to {ref} (x)", "zh": f"从 {lo} 到 {ref} 的较小增幅(倍)"},
             min(gain.values()), ">", 2.5)], lo=lo, ref=ref, e0=bpt["en"][0], e1=results[ref]["en"]["bytes_per_token"],
        z0=bpt["zh"][0], z1=results[ref]["zh"]["bytes_per_token"], ge=gain["en"], gz=gain["zh"])

    step = {lang: results[ref][lang]["bytes_per_token"] / results[4000][lang]["bytes_per_token"] - 1
            for lang in ("en", "zh")}
    single = results[ref]["en_single_token_words"]
    ctx.metric("gain_4000_to_ref", [step["en"], step["zh"]])
    ctx.metric("ref_bytes_chars_per_token", [results[ref][lang][unit] for lang in ("en", "zh")
                                             for unit in ("bytes_per_token", "chars_per_token")])
    ctx.finding(
        "Returns diminish once the words are in the vocabulary: from 4000 to {ref} tokens English gains only "
        "{ge:.1%} (at {ref}, {s:.1%} of held-out English words are already one token; the generated English "
        "training text has just {w:,} distinct words), while Chinese, whose clauses are long pre-tokens with "
        "much left to merge, still gains {gz:.1%}",
        "词进入词表后收益递减:从 4000 到 {ref},英文只提高了 {ge:.1%}(在 {ref} 时验证集中 {s:.1%} 的英文词已经"
        "是单个 token;生成的英文训练文本只有 {w:,} 个不同的词),而中文的一个分句就是一个很长的 pre-token,"
        "还有很多可合并的,仍提高了 {gz:.1%}",
        [Bar({"en": "English gain", "zh": "英文增幅"}, step["en"], "<", 0.10),
         Bar({"en": "Chinese gain / English gain", "zh": "中文增幅 / 英文增幅"}, step["zh"] / step["en"], ">", 2),
         Bar({"en": "single-token English words", "zh": "单 token 英文词"}, single, ">", 0.95)], ref=ref, ge=step["en"],
        gz=step["zh"], s=single, w=train_en_words)

    en, zh, zh_lo = results[ref]["en"], results[ref]["zh"], results[lo]["zh"]
    ctx.finding(
        "Bytes and characters tell different stories, because a Chinese character is 3 UTF-8 bytes: at {ref} "
        "Chinese packs more bytes per token than English ({zb:.2f} vs {eb:.2f}) but fewer characters ({zc:.2f} vs "
        "{ec:.2f}); at {lo} a Chinese character needs more than one token ({zl:.2f} characters per token)",
        "按字节和按字符算,结论不同,因为一个汉字占 3 个 UTF-8 字节:在 {ref} 时,中文每个 token 装的字节比英文多"
        "({zb:.2f} 对 {eb:.2f}),字符却更少({zc:.2f} 对 {ec:.2f});在 {lo} 时一个汉字要用不止一个 token"
        "(每 token {zl:.2f} 个字符)",
        [Bar({"en": "zh / en bytes per token", "zh": "中文 / 英文 每 token 字节"},
             zh["bytes_per_token"] / en["bytes_per_token"], ">", 1),
         Bar({"en": "zh / en characters per token", "zh": "中文 / 英文 每 token 字符"},
             zh["chars_per_token"] / en["chars_per_token"], "<", 1),
         Bar({"en": f"zh characters per token at {lo}", "zh": f"{lo} 时中文每 token 字符"},
             zh_lo["chars_per_token"], "<", 1)], ref=ref, lo=lo, zb=zh["bytes_per_token"], eb=en["bytes_per_token"],
        zc=zh["chars_per_token"], ec=en["chars_per_token"], zl=zh_lo["chars_per_token"])

    diff = {lang: abs(results[ref][lang]["bytes_per_token"] / shipped[lang]["bytes_per_token"] - 1)
            for lang in ("en", "zh")}
    assert shipped["vocab"] == ref, shipped["vocab"]  # the comparison below is at the shipped size
    ctx.finding(
        "The shipped tokenizer (vocab {sv}, trained on pretrain.jsonl and sft.jsonl) compresses held-out text "
        "like ours at {ref}: {se:.2f} vs {oe:.2f} bytes per token in English, {sz:.2f} vs {oz:.2f} in Chinese",
        "随附的 tokenizer(词表 {sv},在 pretrain.jsonl 和 sft.jsonl 上训练)在验证集上的压缩率与这里训练的 {ref} "
        "词表相当:英文每 token {se:.2f} 对 {oe:.2f} 字节,中文 {sz:.2f} 对 {oz:.2f}",
        Bar({"en": "larger relative difference", "zh": "较大的相对差距"}, max(diff.values()), "<", 0.05),
        sv=shipped["vocab"], ref=ref,
        se=shipped["en"]["bytes_per_token"], oe=results[ref]["en"]["bytes_per_token"],
        sz=shipped["zh"]["bytes_per_token"], oz=results[ref]["zh"]["bytes_per_token"])

    r, r_lo = results[ref], results[lo]
    exact = all(x["embedding"] == x["vocab"] * x["hidden"] and x["tied"] and x["vocab"] == v
                for v, x in results.items())  # the trainer may stop short of `v` when the pairs run out
    longer = {lang: results[ref][lang]["bytes_per_token"] / results[2000][lang]["bytes_per_token"] - 1
              for lang in ("en", "zh")}
    ctx.code_fact(
        "The vocabulary's parameter cost is vocab x hidden: {v} x {h} = {e:,} weights for MiniMind2-small, "
        "{s:.1%} of its {t:,} parameters, counted once because lm_head shares the matrix ({s0:.1%} at {lo}); "
        "cutting to 2000 tokens would save {save:,} weights (by construction: embedding = vocab x hidden and tied "
        "at every size)",
        "词表的参数代价是 vocab x hidden:MiniMind2-small 为 {v} x {h} = {e:,} 个权重,占全部 {t:,} 个参数的 "
        "{s:.1%},因为 lm_head 共享这个矩阵,只算一次({lo} 时为 {s0:.1%});降到 2000 个 token 能省下 {save:,} "
        "个权重(按构造:每个大小都有 embedding = vocab x hidden 且权重共享)",
        exact, v=ref, h=r["hidden"], e=r["embedding"], t=r["total"], s=r["embedding"] / r["total"],
        s0=r_lo["embedding"] / r_lo["total"], lo=lo, save=r["embedding"] - results[2000]["embedding"])
    ctx.finding(
        "What those saved weights cost: with 2000 tokens instead of {v}, the same held-out text takes {lg:.0%} more "
        "tokens in English and {lz:.0%} more in Chinese, so a context window holds that much less text",
        "省下这些权重的代价:用 2000 个 token 代替 {v},同样的验证文本英文要多用 {lg:.0%} 的 token,中文多 {lz:.0%},"
        "同一个上下文窗口装下的文本也就少了这么多",
        Bar({"en": "smaller lengthening", "zh": "较小的增长"}, min(longer.values()), ">", 0.1),
        v=ref, lg=longer["en"], lz=longer["zh"])

    ctx.finding(
        "A bigger vocabulary spreads the same text over more rows, and BPE keeps every intermediate token: at "
        "{ref}, {z:.0%} of the learned tokens never occur on their own in the encoded training text (they were "
        "steps towards longer tokens) and {a:.0%} occur fewer than {n} times, against {b:.0%} at 1000. Such a "
        "row gets little signal, as an input and as the token to predict",
        "词表越大,同样的文本被分摊到越多行上,而且 BPE 会保留每一个中间 token:在 {ref} 时,{z:.0%} 的学到的 "
        "token 在编码后的训练文本中从不单独出现(它们只是通往更长 token 的中间步骤),{a:.0%} 出现不到 {n} 次,"
        "1000 时只有 {b:.0%}。这样的行,无论作为输入还是作为要预测的 token,得到的信号都很少",
        Bar({"en": f"rare share at {ref} minus at 1000", "zh": f"{ref} 时的稀有比例减去 1000 时"},
            results[ref]["rare"] - results[1000]["rare"], ">", 0.10), z=results[ref]["never"], a=results[ref]["rare"],
        b=results[1000]["rare"], n=RARE, ref=ref)


def plot(ctx: ExperimentContext, results: dict, shipped: dict) -> None:
    plt = ctx.plt
    sizes = list(results)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for lang, color in (("en", "C0"), ("zh", "C3")):
        left.plot(sizes, [results[v][lang]["bytes_per_token"] for v in sizes], "o-", color=color,
                  label=f"{lang}: bytes/token")
        left.plot(sizes, [results[v][lang]["chars_per_token"] for v in sizes], "s--", color=color, mfc="none",
                  label=f"{lang}: characters/token")
        left.plot([shipped["vocab"]] * 2, [shipped[lang]["bytes_per_token"], shipped[lang]["chars_per_token"]],
                  "*", color="k", ms=10, label="shipped tokenizer" if lang == "en" else None)
    for ax in (left, right):  # log scale, labelled at the measured sizes only
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(sizes, [str(v) for v in sizes], fontsize=8)
    left.set_xlabel("vocabulary size")
    left.set_ylabel("held-out compression")
    left.set_title("Compression vs vocabulary size")
    left.legend(fontsize=8)
    right.plot(sizes, [100 * results[v]["embedding"] / results[v]["total"] for v in sizes], "o-",
               label="embedding share of MiniMind2-small (%)")
    right.plot(sizes, [100 * results[v]["rare"] for v in sizes], "s--", label=f"learned tokens seen < {RARE}x (%)")
    right.plot(sizes, [100 * results[v]["never"] for v in sizes], "^:", label="learned tokens never seen alone (%)")
    right.set_xlabel("vocabulary size")
    right.set_ylabel("percent")
    right.set_title("What the vocabulary costs")
    right.legend(fontsize=8)
    ctx.savefig(fig, "vocab_size.png")


if __name__ == "__main__":
    main(__file__)
