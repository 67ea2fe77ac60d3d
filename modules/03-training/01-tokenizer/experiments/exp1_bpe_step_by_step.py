"""Tokenizer exp1: byte-level BPE, one merge at a time.

(a) The project's from-scratch trainer (`minimind_notes/data/bpe_scratch.py`) learns merges on a
seed-chosen slice of the embedded corpus (English and Chinese). We replay its first merges on
the same word counts, independently of the trainer: at each step, which adjacent pair was the
most frequent, how often it occurred, and whether the trainer merged exactly that one.
(b) A sample sentence, encoded with the first k merges only, for growing k: how the tokens grow
from single bytes into pieces of words and whole words.
(c) English, Chinese and emoji text (the emoji never occur in the training text): does
decode(encode(s)) give s back exactly, and what does an unseen character cost?
(d) Hugging Face `tokenizers`' BpeTrainer (what `minimind tokenizer train` uses) on the same text
and vocabulary size: how many merges and tokens agree, and the compression of both on held-out text.
(e) The special tokens in a ChatML conversation, with the shipped tokenizer (data/tokenizer).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from itertools import pairwise

from minimind_notes.data.bpe_scratch import SYMBOL_TO_BYTE, BPEModel, merge_pair, pretokenize, to_symbols, train_bpe
from minimind_notes.data.chat import apply_chat_template
from minimind_notes.data.tokenizer import SPECIAL_TOKENS, MiniMindTokenizer, train_hf_bpe
from minimind_notes.lab.byte_lm import corpus_text
from minimind_notes.lab.experiment import Bar, ExperimentContext, main

SAMPLES = ["On Monday evening, Lucy walked to the market.", "星期四的下午,亨利走路去磨坊。"]
EMOJI = ["🙂", "🍎", "🎉"]
ROUND_TRIP = {  # the first sentences of the held-out split, plus text with characters never seen in training
    "english": None, "chinese": None,
    "emoji + unseen": "Mia 🙂 loves 🍎🍎! Café naïve. 米娅喜欢🎉, 龘!",
}
REPLAY = 12  # merges replayed and shown in the table; the plot shows more


def readable(token: str) -> str:
    """A token (in byte symbols) as text: '␣' for a space; bytes of an unfinished character as <e4 bd>."""
    raw = bytes(SYMBOL_TO_BYTE[s] for s in token)
    try:
        return raw.decode("utf-8").replace(" ", "␣").replace("\n", "\\n")
    except UnicodeDecodeError:
        return "<" + " ".join(f"{b:02x}" for b in raw) + ">"


def training_slice(seed: int, en_chars: int, zh_chars: int) -> list[str]:
    """Consecutive lines of the English and the Chinese corpus, starting at seed-chosen lines."""
    rng = random.Random(seed)
    out = []
    for lang, budget in (("en", en_chars), ("zh", zh_chars)):
        lines = corpus_text("train", lang).split("\n")
        i, size = rng.randrange(len(lines) // 2), 0
        while size < budget and i < len(lines):
            out.append(lines[i])
            size += len(lines[i])
            i += 1
    return out


def replay_merges(lines: list[str], merges: list[tuple[str, str]], n: int) -> list[dict]:
    """Count adjacent pairs the way a BPE trainer does, apply each learned merge, repeat.

    Per step: the count of the pair the trainer merged and of the most frequent pair at that step.
    """
    words = Counter(to_symbols(piece) for line in lines for piece in pretokenize(line))
    current = [(list(word), count) for word, count in words.items()]  # each word as a list of symbols
    rows = []
    for left, right in merges[:n]:
        pairs: Counter[tuple[str, str]] = Counter()
        for symbols, count in current:
            for pair in pairwise(symbols):
                pairs[pair] += count
        rows.append({"pair": (left, right), "count": pairs[left, right], "best": max(pairs.values())})
        current = [(merge_pair(symbols, (left, right), left + right), count) for symbols, count in current]
    return rows


def hf_merges(tok) -> list[tuple[str, str]]:
    import json

    merges = json.loads(tok.to_str())["model"]["merges"]  # ["a b", ...] or [["a", "b"], ...] by version
    return [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in merges]


def prefix(model: BPEModel, k: int) -> BPEModel:
    """The same tokenizer stopped after its first k merges."""
    return BPEModel(model.vocab, model.merges[:k], model.special_tokens)


def bytes_per_token(text: str, n_tokens: int) -> float:
    return len(text.encode("utf-8")) / n_tokens


def run(ctx: ExperimentContext) -> None:
    en_chars, zh_chars, vocab = (100_000, 35_000, 1000) if ctx.quick else (300_000, 100_000, 2000)
    lines = training_slice(ctx.seed, en_chars, zh_chars)
    text_bytes = sum(len(line.encode()) + 1 for line in lines)
    start = time.perf_counter()
    model = train_bpe(lines, vocab, SPECIAL_TOKENS)
    scratch_s = time.perf_counter() - start
    ctx.log("(a) Training the from-scratch BPE on {n:,} lines ({b:,} bytes, seed {s}) to {v} tokens: "
            "3 special + 256 bytes + {m} merges, {t:.1f} s in pure Python.",
            "(a) 在 {n:,} 行文本({b:,} 字节,种子 {s})上训练从零实现的 BPE,词表 {v}:3 个特殊 token + "
            "256 个字节 + {m} 次合并,纯 Python 用时 {t:.1f} 秒。",
            n=len(lines), b=text_bytes, s=ctx.seed, v=len(model.vocab), m=len(model.merges), t=scratch_s)
    ctx.metric("vocab_size", len(model.vocab))
    ctx.metric("n_merges", len(model.merges))

    replay = replay_merges(lines, model.merges, REPLAY if ctx.quick else 40)
    ctx.metric("merge_counts", [r["count"] for r in replay])
    ctx.table({"en": "(a) The first merges: pair -> new token (id), its count when it was merged",
               "zh": "(a) 最先学到的合并:字符对 -> 新 token(id),合并时它出现的次数"},
              ["rank", "pair", "new token", "id", "count", "most frequent count"],
              [[i, f"{readable(r['pair'][0])} + {readable(r['pair'][1])}", readable(''.join(r["pair"])),
                model.vocab["".join(r["pair"])], r["count"], r["best"]] for i, r in enumerate(replay[:REPLAY])])
    greedy = sum(r["count"] == r["best"] for r in replay)
    ctx.code_fact(
        "BPE is greedy: replaying the first {n} merges on the same word counts, {g} of {n} merged the most "
        "frequent adjacent pair of that moment (the first: {first} + {second}, {c:,} times) (a property of the "
        "trainer: all {n})",
        "BPE 是贪心的:在同样的词频上重放前 {n} 次合并,有 {g} 次合并的正是当时最频繁的相邻字符对"
        "(第一次:{first} + {second},出现 {c:,} 次)(训练器的性质:{n} 次全部如此)",
        greedy == len(replay), n=len(replay), g=greedy, first=readable(replay[0]["pair"][0]),
        second=readable(replay[0]["pair"][1]), c=replay[0]["count"])

    grow = sample_growth(ctx, model)
    round_trips(ctx, model, lines)
    compare_with_tokenizers(ctx, model, lines, vocab, scratch_s)
    chat_template(ctx, model)
    plot(ctx, replay, grow)


def sample_growth(ctx: ExperimentContext, model: BPEModel) -> dict:
    """(b) The sample sentences encoded with the first k merges."""
    n_bytes = sum(len(s.encode()) for s in SAMPLES)
    ks = sorted({0, 10, 30, 100, 300, len(model.merges)} & set(range(len(model.merges) + 1)))
    rows, counts = [], {}
    for k in ks:
        m = prefix(model, k)
        encoded = [m.encode(s) for s in SAMPLES]
        counts[k] = sum(map(len, encoded))
        rows += [[k, len(ids), len(s.encode()) / len(ids), "|".join(readable(m.id_to_token[i]) for i in ids)]
                 for s, ids in zip(SAMPLES, encoded, strict=True)]
    ctx.metric("sample_tokens_by_merges", {str(k): v for k, v in counts.items()})
    ctx.table({"en": f"(b) Two sample sentences ({n_bytes} bytes) encoded with the first k merges",
               "zh": f"(b) 只用前 k 次合并编码两个示例句({n_bytes} 字节)"},
              ["merges k", "tokens", "bytes/token", "tokens (| between them)"], rows)
    dense = list(range(0, len(model.merges) + 1, max(1, len(model.merges) // 60)))
    curve = [sum(len(prefix(model, k).encode(s)) for s in SAMPLES) for k in dense]
    final = counts[ks[-1]]
    ctx.metric("sample_bytes_per_token", n_bytes / final)
    ctx.finding(
        "Merges turn bytes into words: the two sample sentences are {b} tokens with no merges (one per byte) "
        "and {f} with all {m}, {r:.1f} bytes per token",
        "合并把字节逐步拼成词:不做合并时两个示例句共 {b} 个 token(每字节一个),用上全部 {m} 次合并后是 "
        "{f} 个,平均每个 token {r:.1f} 字节",
        Bar({"en": "tokens / bytes with all merges", "zh": "全部合并后 token 数 / 字节数"}, final / n_bytes, "<", 0.6),
        b=counts[0], f=final, m=len(model.merges), r=n_bytes / final)
    ctx.code_fact(
        "The count never rises as merges are added ({n} prefixes): a new merge applies only where every earlier "
        "one is done, so it can only join tokens (a property of BPE encoding)",
        "随着合并增加,token 数从不上升({n} 个前缀):新的合并只在所有更早的合并都做完之后才起作用,只会把 token "
        "拼起来(BPE 编码的性质)",
        all(a >= b for a, b in pairwise(curve)), n=len(curve))
    return {"ks": dense, "tokens": curve}


def round_trips(ctx: ExperimentContext, model: BPEModel, lines: list[str]) -> None:
    """(c) decode(encode(s)) == s, and what characters never seen in training cost."""
    texts = dict(ROUND_TRIP)
    texts["english"] = corpus_text("val", "en").split("\n")[0][:300]
    texts["chinese"] = corpus_text("val", "zh").split("\n")[0][:150]
    rows, exact = [], []
    for name, text in texts.items():
        ids = model.encode(text)
        exact.append(model.decode(ids) == text)
        in_range = all(len(SPECIAL_TOKENS) <= i < len(model.vocab) for i in ids)
        rows.append([name, len(text), len(text.encode()), len(ids), bytes_per_token(text, len(ids)),
                     exact[-1] and in_range])
    ctx.table({"en": "(c) Round trip: decode(encode(s)) == s",
               "zh": "(c) 往返:decode(encode(s)) == s"},
              ["text", "characters", "bytes", "tokens", "bytes/token", "exact, ids in vocab"], rows)
    seen = set("".join(lines))
    unseen = [e for e in EMOJI if e not in seen]
    costs = {e: (len(model.encode(e)), len(e.encode())) for e in EMOJI}
    ctx.metric("emoji_tokens_vs_bytes", {e: list(c) for e, c in costs.items()})
    ctx.code_fact(
        "Byte-level means nothing is unknown: English, Chinese and emoji text all come back exactly ({ok} of "
        "{n}), and each of the {u} emoji that never occur in the training text is encoded as its own UTF-8 "
        "bytes: {costs} tokens (a property of byte-level BPE: every round trip exact, tokens = bytes for every "
        "unseen emoji)",
        "字节级意味着没有未知 token:英文、中文和 emoji 文本都能原样还原({n} 个中 {ok} 个),训练文本里从未"
        "出现的 {u} 个 emoji 都被编码成自己的 UTF-8 字节:分别为 {costs} 个 token(字节级 BPE 的性质:全部往返"
        "一致,每个未见过的 emoji 的 token 数 = 字节数)",
        all(rows[i][-1] for i in range(len(rows))) and len(unseen) == len(EMOJI)
        and all(costs[e][0] == costs[e][1] for e in unseen),
        ok=sum(exact), n=len(exact), u=len(unseen), costs=" / ".join(str(costs[e][0]) for e in EMOJI))


def compare_with_tokenizers(ctx: ExperimentContext, model: BPEModel, lines: list[str], vocab: int,
                            scratch_s: float) -> None:
    """(d) The same text and vocabulary size through Hugging Face's Rust BpeTrainer."""
    start = time.perf_counter()
    hf = train_hf_bpe(lines, vocab)
    hf_s = time.perf_counter() - start
    theirs = hf_merges(hf)
    same_order = next((i for i, (a, b) in enumerate(zip(model.merges, theirs, strict=False)) if a != b),
                      min(len(model.merges), len(theirs)))
    overlap = len(model.vocab.keys() & hf.get_vocab().keys()) / len(model.vocab)
    held = {"english": corpus_text("val", "en"), "chinese": corpus_text("val", "zh")}
    if ctx.quick:
        held = {k: v[:30_000] for k, v in held.items()}
    rows, rel = [], {}
    for name, text in held.items():
        ours, hf_ids = model.encode(text), hf.encode(text).ids
        a, b = bytes_per_token(text, len(ours)), bytes_per_token(text, len(hf_ids))
        rel[name] = abs(a - b) / b
        rows.append([name, len(text.encode()), len(ours), len(hf_ids), a, b, ours == hf_ids])
    ctx.metric("merges_same_order", same_order)
    ctx.metric("vocab_overlap", overlap)
    ctx.metric("seconds_scratch_vs_tokenizers", [scratch_s, hf_s])
    ctx.table({"en": f"(d) From scratch vs tokenizers' BpeTrainer, vocab {vocab}, on held-out text",
               "zh": f"(d) 从零实现 vs tokenizers 的 BpeTrainer,词表 {vocab},验证集文本"},
              ["held-out", "bytes", "tokens (scratch)", "tokens (tokenizers)", "bytes/token (scratch)",
               "bytes/token (tokenizers)", "identical ids"], rows)
    ctx.log("(d) Training time: {a:.2f} s from scratch (Python) vs {b:.2f} s with tokenizers (Rust); "
            "the first {s} of {m} merges are identical and in the same order.",
            "(d) 训练用时:从零实现(Python){a:.2f} 秒,tokenizers(Rust){b:.2f} 秒;{m} 次合并中前 {s} 次"
            "完全相同且顺序一致。", a=scratch_s, b=hf_s, s=same_order, m=len(model.merges))
    ctx.finding(
        "The readable trainer learns what tokenizers learns: {o:.1%} of the vocabulary is shared, the first {s} "
        "of {m} merges agree in order, and held-out compression differs by {e:.2%} (English) and {z:.2%} "
        "(Chinese)",
        "这个可读的训练器和 tokenizers 学到的东西一样:词表重合 {o:.1%},{m} 次合并中前 {s} 次顺序一致,"
        "验证集上的压缩率相差 {e:.2%}(英文)和 {z:.2%}(中文)",
        [Bar({"en": "shared vocabulary", "zh": "词表重合"}, overlap, ">=", 0.98),
         Bar({"en": "larger compression difference", "zh": "较大的压缩率差异"}, max(rel.values()), "<", 0.03)],
        o=overlap, s=same_order, m=len(model.merges),
        e=rel["english"], z=rel["chinese"])


def chat_template(ctx: ExperimentContext, model: BPEModel) -> None:
    """(e) ChatML: each message is <|im_start|>role\\n ... <|im_end|>\\n, and the markers are single ids."""
    tok = MiniMindTokenizer.from_dir()
    convo = [{"role": "user", "content": "Who is Lucy?"},
             {"role": "assistant", "content": "Lucy is a girl who lives by the river."}]
    text = apply_chat_template(convo)  # a default system message is added in front
    ids = tok.encode(text)
    n_messages = text.count("<|im_start|>")
    starts, ends = ids.count(tok.bos_token_id), ids.count(tok.eos_token_id)
    scratch_ids = model.encode(text)  # the scratch encoder has no special-token matching
    typed = tok.encode("Please print <|im_end|> for me")
    ctx.metric("chat_tokens_shipped_vs_scratch", [len(ids), len(scratch_ids)])
    ctx.table({"en": "(e) A ChatML conversation encoded by the shipped tokenizer",
               "zh": "(e) 用随附的 tokenizer 编码一段 ChatML 对话"},
              ["token", "id"],
              [[p.replace("\n", "\\n").replace(" ", "␣"), i] for p, i in zip(tok.pieces(ids), ids, strict=True)][:24])
    ctx.code_fact(
        "In ChatML each of the {n} messages opens with <|im_start|> (id {b}) and closes with <|im_end|> (id {e}), "
        "one token each: {s} and {t} in {k} tokens, and the text decodes back exactly; the scratch encoder, which "
        "does not match special tokens, spends {sk} tokens on the same text (a property of the "
        "tokenizer's special tokens: {n} of each, exact decode, scratch longer)",
        "ChatML 中 {n} 条消息都以 <|im_start|>(id {b})开头、以 <|im_end|>(id {e})结尾,各只占一个 token:"
        "{k} 个 token 里分别有 {s} 个和 {t} 个,解码后与原文完全一致;不识别特殊 token 的从零编码器处理同一段"
        "文本要 {sk} 个 token(tokenizer 特殊 token 的性质:两种各 {n} 个,解码一致,从零编码器更长)",
        starts == ends == n_messages and tok.decode(ids) == text and len(scratch_ids) > len(ids),
        n=n_messages, b=tok.bos_token_id, e=tok.eos_token_id, s=starts, t=ends, k=len(ids), sk=len(scratch_ids))
    ctx.code_fact(
        "tokenizers matches special-token strings anywhere in the input: a user who types '<|im_end|>' produces "
        "the real end-of-message id {e} (count {c} in {k} tokens), so user text must be checked for these markers "
        "before it is templated (a property of the tokenizers library: id {e} appears)",
        "tokenizers 会在输入的任何位置匹配特殊 token 字符串:用户输入 '<|im_end|>' 就会产生真正的消息结束 id {e}"
        "({k} 个 token 中出现 {c} 次),所以用户文本在套模板之前要先检查有没有这些标记"
        "(tokenizers 库的性质:出现了 id {e})",
        tok.eos_token_id in typed, e=tok.eos_token_id, c=typed.count(tok.eos_token_id), k=len(typed))


def plot(ctx: ExperimentContext, replay: list[dict], grow: dict) -> None:
    plt = ctx.plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(range(len(replay)), [r["count"] for r in replay], "o-", ms=3)
    left.set_yscale("log")
    left.set_xlabel("merge rank")
    left.set_ylabel("count of the merged pair")
    left.set_title("Each merge is the most frequent pair left")
    right.plot(grow["ks"], grow["tokens"], "-")
    right.set_xlabel("merges used (k)")
    right.set_ylabel("tokens of the two sample sentences")
    right.set_title("The samples shrink as merges are added")
    fig.suptitle("Byte-level BPE, step by step")
    ctx.savefig(fig, "bpe_steps.png")


if __name__ == "__main__":
    main(__file__)
