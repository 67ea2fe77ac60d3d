"""Data exp1: MiniMind's three data formats, and which tokens the SFT and DPO losses learn from.

(a) Real rows of the embedded pretraining, SFT and DPO sets, read with the project's own readers
(`iter_documents`, `read_rows`): {"text"}, {"conversations": [...]}, {"chosen": [...], "rejected": [...]}.
(b) One conversation through the ChatML template and the shipped tokenizer into ids, and
`masked_ids`' labels over it: which tokens count (label = the token) and which are -100.
(c) Every SFT conversation checked against the template's own layout: do the counted tokens sit
exactly on the assistant replies and their <|im_end|>, and decode back to them? The same for
both sides of every DPO pair.
(d) SFT batches as the trainer draws them (16 rows, right-padded): what share of the positions
the loss actually learns from, where the rest go, and what truncation to max_seq_len does.
(e) Broken lines: the error names file:LINE; skip_bad skips and counts them.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections import Counter
from pathlib import Path

import torch

from minimind_notes.content import data_dir
from minimind_notes.data.chat import BOS, EOS, apply_chat_template
from minimind_notes.data.chat_cache import DPODataset, SFTDataset
from minimind_notes.data.datasets import IGNORE, EpochSampler, masked_ids, read_rows
from minimind_notes.data.jsonl import DataError
from minimind_notes.data.pretokenize import iter_documents
from minimind_notes.data.tokenizer import MiniMindTokenizer
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.model import MiniMindConfig, MiniMindForCausalLM

BATCH, MAX_LEN = 16, 256  # MAX_LEN is the SFT stage's max_seq_len (train/config.py)
KINDS = ["template", "system", "user", "assistant", "pad"]  # where a position of an SFT batch goes


def clip(text: str, n: int = 90) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= n else text[:n - 3] + "..."


# -- (a) the three formats ---------------------------------------------------------------------
def read_sets() -> dict:
    folder = data_dir()
    docs = list(iter_documents(folder / "pretrain.jsonl"))
    sft, sft_bad = read_rows(folder / "sft.jsonl", "conversations", skip_bad=False)
    dpo, dpo_bad = read_rows(folder / "dpo.jsonl", "pair", skip_bad=False)
    return {"docs": docs, "sft": [c for _, c in sft], "dpo": [p for _, p in dpo], "bad": len(sft_bad) + len(dpo_bad)}


# -- (b), (c) spans from the template, tokens from the tokenizer ------------------------------------
def layout(messages: list[dict]) -> tuple[str, list[tuple[str, int, int]]]:
    """The ChatML text and, per message, (role, content start, content end) in characters.

    Boundaries come from the project's template itself: the text of the first k messages ends where
    message k begins, and one message is laid out as BOS + role + newline + content + EOS + newline."""
    text = apply_chat_template(messages)
    offset = len(text) - len(apply_chat_template(messages, default_system=None))  # a default system message
    spans = [("system", len(f"{BOS}system\n"), offset - len(f"{EOS}\n"))] if offset else []
    for k, m in enumerate(messages):
        start = offset + len(apply_chat_template(messages[:k], default_system=None)) + len(f"{BOS}{m['role']}\n")
        spans.append((m["role"], start, start + len(m["content"])))
    return text, spans


def token_kinds(tok: MiniMindTokenizer, messages: list[dict]) -> tuple[list[int], list[str]]:
    """The template's token ids and each token's kind: the content of system/user/assistant, with an
    assistant's <|im_end|> counted as assistant, or 'template' (BOS, role names, newlines, other EOS)."""
    text, spans = layout(messages)
    enc = tok.tok.encode(text, add_special_tokens=False)
    kinds = []
    for start, _ in enc.offsets:
        kind = "template"
        for role, a, b in spans:
            end = b + len(EOS) if role == "assistant" else b
            if a <= start < end:
                kind = role
        kinds.append(kind)
    return enc.ids, kinds


def check_masks(tok: MiniMindTokenizer, conversations: list[list[dict]], max_len: int) -> dict:
    """Counted tokens vs the assistant spans, over every conversation."""
    counted = counted_in = assistant = assistant_counted = exact = same_ids = 0
    for conv in conversations:
        ids, labels = masked_ids(tok, conv, max_len)
        ref_ids, kinds = token_kinds(tok, conv)
        same_ids += ref_ids[:len(ids)] == ids  # the spans are read off the very ids masked_ids labelled
        for label, kind in zip(labels, kinds, strict=False):
            counted += label != IGNORE
            counted_in += label != IGNORE and kind == "assistant"
            assistant += kind == "assistant"
            assistant_counted += label != IGNORE and kind == "assistant"
        exact += decoded_spans(tok, ids, labels) == [m["content"] + EOS for m in conv if m["role"] == "assistant"]
    return {"rows": len(conversations), "counted": counted, "precision": counted_in / counted,
            "recall": assistant_counted / assistant, "exact": exact, "same_ids": same_ids}


def decoded_spans(tok: MiniMindTokenizer, ids: list[int], labels: list[int]) -> list[str]:
    """Each run of consecutive counted tokens, decoded."""
    runs, run = [], []
    for i, label in zip(ids, labels, strict=True):
        if label != IGNORE:
            run.append(i)
        elif run:
            runs.append(run)
            run = []
    return [tok.decode(r) for r in [*runs, run] if r]


def check_dpo(tok: MiniMindTokenizer, pairs: list, max_len: int) -> dict:
    """Both sides of every pair: counted tokens decode to the reply; the prompt ids are identical."""
    same_prompt = exact = 0
    for chosen, rejected in pairs:
        sides = [masked_ids(tok, conv, max_len) for conv in (chosen, rejected)]
        firsts = [labels.index(next(v for v in labels if v != IGNORE)) for _, labels in sides]
        same_prompt += sides[0][0][:firsts[0]] == sides[1][0][:firsts[1]]
        exact += all(decoded_spans(tok, ids, labels) == [m["content"] + EOS for m in conv if m["role"] == "assistant"]
                     for (ids, labels), conv in zip(sides, (chosen, rejected), strict=True))
    data = DPODataset(data_dir() / "dpo.jsonl", tok, max_len)
    ids, labels = data.batch([0, 1, 2, 3])
    layout_ok = all(ids[r, :len(data.pair(r % 4)[r // 4].ids)].tolist() == data.pair(r % 4)[r // 4].ids
                    for r in range(8))
    return {"pairs": len(pairs), "same_prompt": same_prompt, "exact": exact, "batch_shape": list(ids.shape),
            "chosen_first": layout_ok}


# -- (d) SFT batches --------------------------------------------------------------------------------
def batch_shares(tok: MiniMindTokenizer, seed: int) -> dict:
    """One epoch of 16-row batches in the trainer's order: positions per kind, and counted positions."""
    data = SFTDataset(data_dir() / "sft.jsonl", tok, MAX_LEN)
    rows, _ = read_rows(data_dir() / "sft.jsonl", "conversations", skip_bad=False)
    kinds = [token_kinds(tok, conv)[1] for _, conv in rows]
    sampler = EpochSampler(len(data), seed)
    totals, counted, positions, widths = Counter(), 0, 0, []
    for _ in range(len(data) // BATCH):
        idx = sampler.take(BATCH)
        ids, labels = data.batch(idx)  # (16, W) right-padded
        positions += ids.numel()
        counted += int((labels[:, 1:] != IGNORE).sum())  # exactly the targets of the model's loss
        widths.append(ids.shape[1])
        for i in idx:
            totals.update(kinds[i][:MAX_LEN])
            totals["pad"] += ids.shape[1] - len(data.example(i).ids)
    return {"positions": positions, "counted": counted, "kinds": {k: totals[k] for k in KINDS},
            "mean_width": sum(widths) / len(widths), "batches": len(widths)}


def truncation(tok: MiniMindTokenizer, conversations: list[list[dict]], lengths: list[int]) -> list[dict]:
    """What masked_ids' truncation to max_len does to the targets of each conversation."""
    full = [masked_ids(tok, conv, 10**9) for conv in conversations]
    out = []
    for n in lengths:
        cut = [masked_ids(tok, conv, n) for conv in conversations]
        ends_in_reply = [len(f[0]) > n and c[1][-1] != IGNORE and c[0][-1] != tok.eos_token_id
                         for f, c in zip(full, cut, strict=True)]
        out.append({"max_len": n, "truncated": sum(len(f[0]) > n for f in full), "ends_in_reply": sum(ends_in_reply),
                    "replies_dropped": sum(len(decoded_spans(tok, *f)) - len(decoded_spans(tok, *c))
                                           for f, c in zip(full, cut, strict=True)),
                    "no_target": sum(all(v == IGNORE for v in c[1][1:]) for c in cut)})
    return out


def empty_row_loss(tok: MiniMindTokenizer, conv: list[dict], n: int) -> float:
    """The loss of a batch whose only row lost every target to truncation: 0 tokens / 0 tokens."""
    torch.manual_seed(0)
    model = MiniMindForCausalLM(MiniMindConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                               num_key_value_heads=1, vocab_size=tok.vocab_size)).eval()
    ids, labels = masked_ids(tok, conv, n)
    with torch.no_grad():
        return float(model(torch.tensor([ids]), labels=torch.tensor([labels])).loss)


# -- (e) broken lines -----------------------------------------------------------------------------------
BROKEN = [
    {"conversations": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]},
    '{"conversations": [{"role": "user", "content": "Hi"}',  # line 2: cut off, not JSON
    {"conversations": [{"role": "bot", "content": "Hi"}]},  # line 3: unknown role
    {"conversations": [{"role": "user", "content": "Hi"}]},  # line 4: nothing to learn from
    {"conversations": [{"role": "user", "content": "2 + 2?"}, {"role": "assistant", "content": "4"}]},
]


def broken_file(tok: MiniMindTokenizer) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "broken.jsonl"
        path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in BROKEN) + "\n\n")
        try:
            SFTDataset(path, tok)
            stop = None
        except DataError as e:
            stop = e.message.replace(tmp, "<tmp>")
        skipped = SFTDataset(path, tok, skip_bad=True)
        return {"stop": stop, "rows": len(skipped), "bad": [b.replace(tmp, "<tmp>") for b in skipped.bad_lines]}


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)
    tok = MiniMindTokenizer.from_dir()
    sets = read_sets()
    show_sets(ctx, sets)
    example = next(c for c in sets["sft"] if sum(m["role"] == "assistant" for m in c) == 2
                   and c[0]["role"] != "system" and all(ord(ch) < 128 for m in c for ch in m["content"])
                   and len(token_kinds(tok, c)[1]) <= MAX_LEN)  # shown whole, not truncated
    ids, labels = masked_ids(tok, example, MAX_LEN)
    _, kinds = token_kinds(tok, example)
    show_example(ctx, tok, example, ids, labels, kinds)

    convs = sets["sft"][:600] if ctx.quick else sets["sft"]
    masks = ctx.metric("sft_mask_check", check_masks(tok, convs, 10**9))  # whole rows: (d) is about truncation
    dpo = ctx.metric("dpo_check", check_dpo(tok, sets["dpo"], MAX_LEN))
    shares = ctx.metric("sft_batches", batch_shares(tok, ctx.seed))
    cut = ctx.metric("truncation", truncation(tok, convs, [48, 64, 128, MAX_LEN]))
    no_target = next(c for c in sets["sft"] if all(v == IGNORE for v in masked_ids(tok, c, 48)[1][1:]))
    nan_loss = ctx.metric("loss_with_no_target", empty_row_loss(tok, no_target, 48))
    broken = ctx.metric("broken_file", broken_file(tok))
    show_numbers(ctx, shares, cut, broken)
    findings(ctx, sets, masks, dpo, shares, cut, nan_loss, broken)
    plot(ctx, tok, ids, labels, shares)


def show_sets(ctx: ExperimentContext, sets: dict) -> None:
    chosen, rejected = sets["dpo"][0]
    ctx.table({"en": "(a) The three formats, read with the project's readers (first row of each)",
               "zh": "(a) 三种数据格式,用项目自己的读取函数读出(各取第一行)"},
              ["file", "format", "rows", "first row"],
              [["pretrain.jsonl", '{"text": ...}', len(sets["docs"]), clip(sets["docs"][0])],
               ["sft.jsonl", '{"conversations": [{role, content}, ...]}', len(sets["sft"]),
                clip(" | ".join(f"{m['role']}: {m['content']}" for m in sets["sft"][0]))],
               ["dpo.jsonl", '{"chosen": [...], "rejected": [...]}', len(sets["dpo"]),
                clip(f"chosen: {chosen[-1]['content']} | rejected: {rejected[-1]['content']}")]])
    roles = Counter(m["role"] for c in sets["sft"] for m in c)
    ctx.log("SFT messages by role: {r}; conversations with an explicit system message: {s} of {n}.",
            "SFT 各角色的消息数:{r};自带 system 消息的对话:{s} / {n}。",
            r=dict(roles), s=sum(c[0]["role"] == "system" for c in sets["sft"]), n=len(sets["sft"]))


def show_example(ctx: ExperimentContext, tok: MiniMindTokenizer, conv: list[dict], ids: list[int],
                 labels: list[int], kinds: list[str]) -> None:
    ctx.log("(b) One conversation as ChatML text:\n{t}", "(b) 一段对话套上 ChatML 模板后的文本:\n{t}",
            t=apply_chat_template(conv))
    pieces = tok.pieces(ids)
    ctx.table({"en": f"(b) The same conversation as {len(ids)} token ids; label -100 = the loss ignores it",
               "zh": f"(b) 同一段对话的 {len(ids)} 个 token id;label 为 -100 表示 loss 忽略它"},
              ["pos", "id", "piece", "part", "label", "counts"],
              [[i, t, repr(p), k, lab, "yes" if lab != IGNORE else "-"]
               for i, (t, p, k, lab) in enumerate(zip(ids, pieces, kinds, labels, strict=True))])


def show_numbers(ctx: ExperimentContext, shares: dict, cut: list[dict], broken: dict) -> None:
    pos = shares["positions"]
    ctx.table({"en": f"(d) One epoch of SFT batches ({shares['batches']} x {BATCH} rows, max_seq_len {MAX_LEN}): "
                     "where the positions go",
               "zh": f"(d) 一个 epoch 的 SFT batch({shares['batches']} 个 x {BATCH} 行,max_seq_len {MAX_LEN}):"
                     "各位置的去向"},
              ["part", "positions", "share"],
              [[k, shares["kinds"][k], shares["kinds"][k] / pos] for k in KINDS]
              + [["counted by the loss (labels != -100)", shares["counted"], shares["counted"] / pos]])
    ctx.table({"en": "(d) Truncating the SFT conversations to max_seq_len",
               "zh": "(d) 把 SFT 对话截断到 max_seq_len"},
              ["max_seq_len", "rows cut", "rows ending inside a reply (no <|im_end|>)", "replies dropped entirely",
               "rows with no target"],
              [[c["max_len"], c["truncated"], c["ends_in_reply"], c["replies_dropped"], c["no_target"]] for c in cut])
    ctx.table({"en": "(e) A file with three broken lines", "zh": "(e) 含三行坏数据的文件"},
              ["reader", "result"],
              [["SFTDataset(path)", broken["stop"]], ["SFTDataset(path, skip_bad=True)", f"{broken['rows']} rows"]]
              + [["  skipped", b] for b in broken["bad"]])


def findings(ctx: ExperimentContext, sets: dict, masks: dict, dpo: dict, shares: dict, cut: list[dict],
             nan_loss: float, broken: dict) -> None:
    odd_pairs = sum(not (c[:-1] == r[:-1] and c[-1] != r[-1]) for c, r in sets["dpo"])
    ctx.finding(
        "The readers load {d} pretraining documents, {s} conversations and {p} preference pairs from the embedded "
        "files with {b} bad lines; in {k} of {p} pairs chosen and rejected share the prompt and differ only in the "
        "last assistant reply",
        "读取函数从内置文件中读出 {d} 篇预训练文档、{s} 段对话和 {p} 组偏好对,坏行 {b} 行;{p} 组中有 {k} 组 chosen 与 "
        "rejected 的提示相同,只在最后一条 assistant 回复上不同",
        [Bar({"en": "bad lines", "zh": "坏行"}, sets["bad"], "<=", 0),
         Bar({"en": "pairs that differ elsewhere", "zh": "在别处不同的偏好对"}, odd_pairs, "<=", 0)],
        d=len(sets["docs"]), s=len(sets["sft"]), p=len(sets["dpo"]), b=sets["bad"], k=len(sets["dpo"]) - odd_pairs)
    ctx.finding(
        "The SFT mask sits exactly on the replies: over {n} conversations, {pr:.2%} of the {c} counted tokens lie "
        "in an assistant reply or its <|im_end|> and {re:.2%} of those tokens are counted; in {e} of {n} rows the "
        "counted tokens decode to exactly the replies plus <|im_end|>, nothing of the system, user or role tokens",
        "SFT 的 mask 恰好落在回复上:在 {n} 段对话中,{c} 个计入 loss 的 token 有 {pr:.2%} 位于 assistant 回复或其 "
        "<|im_end|> 上,而这些位置上的 token 有 {re:.2%} 被计入;{n} 行中有 {e} 行,计入的 token 解码后恰好是各条回复"
        "加 <|im_end|>,不含任何 system、user 或角色名 token",
        [Bar({"en": "counted tokens outside the replies", "zh": "回复之外被计入的 token 占比"}, 1 - masks["precision"],
             "<=", 0),
         Bar({"en": "reply tokens not counted", "zh": "回复中未被计入的 token 占比"}, 1 - masks["recall"], "<=", 0),
         Bar({"en": "rows that do not decode to their replies", "zh": "解码后不等于其回复的行"},
             masks["rows"] - min(masks["exact"], masks["same_ids"]), "<=", 0)],
        n=masks["rows"], c=masks["counted"], pr=masks["precision"], re=masks["recall"], e=masks["exact"])
    ctx.finding(
        "DPO uses the same masks on both sides: in {e} of {p} pairs the chosen and the rejected counted tokens "
        "decode to their own reply plus <|im_end|>, and in {sp} the ids before the first counted token are "
        "identical",
        "DPO 两侧用的是同一种 mask:{p} 组中有 {e} 组,chosen 和 rejected 计入的 token 解码后各自恰好是自己的回复加 "
        "<|im_end|>;有 {sp} 组在第一个计入 token 之前的 id 完全相同",
        Bar({"en": "pairs off their replies or prompt", "zh": "回复或提示对不上的偏好对"},
            dpo["pairs"] - min(dpo["exact"], dpo["same_prompt"]), "<=", 0),
        e=dpo["exact"], p=dpo["pairs"], sp=dpo["same_prompt"])
    ctx.code_fact(
        "A DPO batch of 4 pairs is {shape}, the 4 chosen rows first (the collator's layout)",
        "4 组偏好对组成的 DPO batch 形状为 {shape},前 4 行是 chosen(collator 的排布)",
        Bar({"en": "batch rows out of place (of 8)", "zh": "batch 中位置不对的行(共 8 行)"},
            0 if dpo["chosen_first"] and dpo["batch_shape"][0] == 8 else 8, "<=", 0),
        shape="x".join(map(str, dpo["batch_shape"])))
    pos, k = shares["positions"], shares["kinds"]
    real = pos - k["pad"]
    ctx.metric("counted_share", shares["counted"] / pos)
    ctx.metric("pad_share", k["pad"] / pos)
    ctx.metric("counted_share_of_real", shares["counted"] / real)
    ctx.finding(
        "In SFT batches of {b} rows only {c:.1%} of the positions are learned from: padding takes {pad:.1%} (rows "
        "are padded to the longest, mean width {w:.0f}), and of the real tokens {cr:.1%} count while the template "
        "{t:.1%}, system {s:.1%} and user {u:.1%} are context only; the counted tokens are the assistant tokens",
        "在 {b} 行的 SFT batch 中,只有 {c:.1%} 的位置参与学习:padding 占 {pad:.1%}(每行补齐到最长的一行,平均宽度 "
        "{w:.0f});真实 token 中只有 {cr:.1%} 计入 loss,模板 {t:.1%}、system {s:.1%}、user {u:.1%} 都只是上下文;"
        "计入的 token 正好就是 assistant 的 token",
        [Bar({"en": "share of positions counted", "zh": "计入 loss 的位置占比"}, shares["counted"] / pos, "<", 0.4),
         Bar({"en": "|counted - assistant tokens|", "zh": "|计入数 - assistant token 数|"},
             abs(shares["counted"] - k["assistant"]), "<=", 0)],
        b=BATCH, c=shares["counted"] / pos, pad=k["pad"] / pos, w=shares["mean_width"], cr=shares["counted"] / real,
        t=k["template"] / real, s=k["system"] / real, u=k["user"] / real)
    short, full = cut[0], cut[-1]
    ctx.finding(
        "Truncation cuts from the end, where the replies are: at max_seq_len {n}, {tr} of {rows} rows are cut; {er} "
        "end inside a reply, which keeps its words but not its <|im_end|> (nothing teaches the model to stop "
        "there), {rd} replies are dropped entirely and {nt} rows keep no target at all. At {m}, {fc} of {rows} rows "
        "are cut",
        "截断从末尾开始,而回复恰好在末尾:max_seq_len 为 {n} 时,{rows} 行中有 {tr} 行被截断;其中 {er} 行断在某条回复"
        "中间,回复的字还在,<|im_end|> 却没了(模型在这里学不到该停下);有 {rd} 条回复被整条丢掉,{nt} 行一个目标都"
        "不剩。max_seq_len 为 {m} 时,{rows} 行中有 {fc} 行被截断",
        [Bar({"en": f"rows ending inside a reply at {short['max_len']}", "zh": f"{short['max_len']} 时断在回复中的行"},
             short["ends_in_reply"], ">", 0),
         Bar({"en": f"rows with no target at {short['max_len']}", "zh": f"{short['max_len']} 时无目标的行"},
             short["no_target"], ">", 0),
         Bar({"en": f"share of rows cut at {full['max_len']}", "zh": f"{full['max_len']} 时被截断的行占比"},
             full["truncated"] / masks["rows"], "<=", 0.01)],
        n=short["max_len"], tr=short["truncated"], rows=masks["rows"], er=short["ends_in_reply"],
        rd=short["replies_dropped"], nt=short["no_target"], m=full["max_len"], fc=full["truncated"])
    ctx.code_fact(
        "A batch made only of rows with no target has loss {nan}: the mean over zero counted tokens is 0 / 0",
        "只由无目标的行组成的 batch,loss 为 {nan}:对零个计入 token 求平均就是 0 / 0",
        Bar({"en": "that batch's loss is finite (1 = yes)", "zh": "该 batch 的 loss 是有限数(1 = 是)"},
            float(math.isfinite(nan_loss)), "<=", 0), nan=nan_loss)
    lines = [b.rsplit(".jsonl:", 1)[1].split(":")[0] for b in broken["bad"]]
    ctx.code_fact(
        "A broken line stops loading with its place: '{stop}'; with skip_bad the {n} good rows load and lines {ls} "
        "are skipped and counted (the readers' behaviour on a file built with broken lines 2, 3, 4: a property of "
        "the code, also tested in tests/)",
        "坏行会让读取停下,并指出位置:'{stop}';加上 skip_bad 后,{n} 行好数据照常读入,第 {ls_zh} 行被跳过并计数"
        "(读取函数在一个故意写坏第 2、3、4 行的文件上的行为:这是代码的性质,tests/ 里也有检验)",
        broken["stop"] is not None and "broken.jsonl:2:" in broken["stop"] and broken["rows"] == 2
        and lines == ["2", "3", "4"], stop=broken["stop"], n=broken["rows"], ls=", ".join(lines),
        ls_zh="、".join(lines))


def plot(ctx: ExperimentContext, tok: MiniMindTokenizer, ids: list[int], labels: list[int], shares: dict) -> None:
    plt = ctx.plt
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6), gridspec_kw={"height_ratios": [4, 1]})
    x, y, width = 0.0, 0.0, 100.0
    for piece, label in zip(tok.pieces(ids), labels, strict=True):
        text = piece.replace("\n", "\\n").replace(" ", "\u00b7")  # show spaces as middle dots
        w = 0.62 * len(text) + 0.9  # about 0.62 units per character at this font size
        if x + w > width:
            x, y = 0.0, y - 1.0
        top.text(x, y, text, family="monospace", fontsize=8, va="center",
                 bbox={"boxstyle": "round,pad=0.2", "fc": "#8fd18f" if label != IGNORE else "#dddddd",
                       "ec": "#555555", "lw": 0.4})
        x += w
        if piece.endswith("\n"):  # start a new line where the text does
            x, y = 0.0, y - 1.0
    top.set_xlim(-1, width + 2)
    top.set_ylim(y - 1, 1)
    top.axis("off")
    top.set_title("One SFT conversation as tokens (\u00b7 = space): green = counted by the loss (label = token), "
                  "grey = label -100", fontsize=10)
    pos = shares["positions"]
    left = 0.0
    colors = {"template": "#bbbbbb", "system": "#9ecae1", "user": "#6baed6", "assistant": "#31a354",
              "pad": "#eeeeee"}
    for k in KINDS:
        share = shares["kinds"][k] / pos
        bottom.barh(0, share, height=0.5, left=left, color=colors[k], edgecolor="#555555", lw=0.5,
                    label=f"{k} {share:.0%}")
        left += share
    bottom.set_xlim(0, 1)
    bottom.set_yticks([])
    bottom.set_xlabel(f"share of the positions in one epoch of SFT batches ({BATCH} rows, right-padded); "
                      "only 'assistant' counts")
    bottom.legend(ncol=5, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.6))
    ctx.savefig(fig, "sft_loss_mask.png")


if __name__ == "__main__":
    main(__file__)
