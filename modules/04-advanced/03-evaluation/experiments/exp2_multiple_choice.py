"""Evaluation exp2: multiple choice by likelihood, what it measures, and what the errors look like.

Three models answer the embedded exam (`data/eval_mc.jsonl`: C-Eval/MMLU rows, question + A-D +
answer, subjects world_facts / arithmetic / language, answers spread evenly over A-D): an
untrained model, a small model pretrained through the project's real `Trainer`, and that model
after SFT. They are trained here at lab scale, so expect them to be weak.

`minimind_notes.evaluate.option_scores` (behind `minimind eval mc`) gives each option the mean
log-probability per token of its text after the question, and the highest wins. From the same
forward passes we also score the options by their summed log-probability, and by a calibrated
score (summed log-probability given the question minus given only "Answer:"), and we ask the
C-Eval/MMLU way: the options listed with letters, then compare P(A), P(B), P(C), P(D). For each
scorer: accuracy with its binomial standard error, how often each letter is picked, and how often
the shortest option is picked. Then an error analysis of the best model: per subject, the most
confident mistakes, and how many mistakes are the option the model prefers without the question.

C-Eval: set MINIMIND_CEVAL to a C-Eval CSV file or a folder of them (e.g. the val/ folder of the
C-Eval release); dataset/ceval/val is also looked at. Without one it is skipped.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from minimind_notes.content import data_dir
from minimind_notes.data.tokenizer import MiniMindTokenizer
from minimind_notes.evaluate import LETTERS, MCQuestion, multiple_choice, option_scores, read_mc
from minimind_notes.lab.experiment import Bar, ExperimentContext, main
from minimind_notes.lab.stage import run_stage
from minimind_notes.model import MiniMindForCausalLM

SCORERS = {
    "mean": ("mean log-prob per token (option_scores)", "每 token 平均对数概率(option_scores)"),
    "sum": ("summed log-prob", "对数概率之和"),
    "calibrated": ("sum given question - sum given 'Answer:'", "给定问题的和 - 只给 'Answer:' 的和"),
    "letter": ("letter after the listed options", "列出选项后比较字母"),
}
CHANCE = 0.25


def is_zh(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def cue(text: str) -> str:
    return "答案:" if is_zh(text) else "Answer:"


def prompt_ids(tok: MiniMindTokenizer, text: str, chat: bool) -> list[int]:
    """The prompt option_scores builds: the chat template for a chat model, else bos + text + ' '."""
    if chat:
        return tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                       tokenize=True)
    return [tok.bos_token_id, *tok.encode(text + " ")]


@torch.no_grad()
def option_logprobs(model: nn.Module, prompt: list[int], options: list[list[int]]) -> list[torch.Tensor]:
    """Log-probability of every token of each option after `prompt`: one right-padded batch of 4.

    Attention is causal, so the padding after a shorter option cannot change its scores."""
    seqs = [prompt + o for o in options]
    ids = torch.zeros(len(seqs), max(map(len, seqs)), dtype=torch.long)  # (4, T)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
    logp = F.log_softmax(model(ids).logits.float(), dim=-1)  # (4, T, V)
    out = []
    for i, s in enumerate(seqs):
        pos = torch.arange(len(prompt) - 1, len(s) - 1)  # the positions that predict the option's tokens
        out.append(logp[i, pos, ids[i, pos + 1]])
    return out


@torch.no_grad()
def letter_logprobs(model: nn.Module, tok: MiniMindTokenizer, q: MCQuestion, chat: bool) -> list[float]:
    """C-Eval/MMLU style: the question, the options as 'A. ...' lines, a cue; then P(letter) as next token."""
    listing = "\n".join([q.question, *(f"{k}. {q.options[k]}" for k in LETTERS), cue(q.question)])
    prompt = prompt_ids(tok, listing, chat) if chat else [tok.bos_token_id, *tok.encode(listing)]
    letters = [tok.encode(k if chat else " " + k)[0] for k in LETTERS]  # 'A' opens a reply; ' A' follows ':'
    logp = F.log_softmax(model(torch.tensor([prompt])).logits[0, -1].float(), dim=-1)
    return [float(logp[t]) for t in letters]


def score_questions(model: nn.Module, tok: MiniMindTokenizer, questions: list[MCQuestion], chat: bool) -> list[dict]:
    model.eval()
    rows = []
    for q in questions:
        options = [tok.encode(q.options[k]) for k in LETTERS]
        given = option_logprobs(model, prompt_ids(tok, q.question, chat), options)
        blind = option_logprobs(model, prompt_ids(tok, cue(q.question), chat), options)
        rows.append({
            "answer": LETTERS.index(q.answer), "subject": q.subject, "tokens": [len(o) for o in options],
            "mean": [float(g.mean()) for g in given], "sum": [float(g.sum()) for g in given],
            "calibrated": [float(g.sum() - b.sum()) for g, b in zip(given, blind, strict=True)],
            "blind": [float(b.mean()) for b in blind], "letter": letter_logprobs(model, tok, q, chat)})
    return rows


def pick(scores: list[float]) -> int:
    return max(range(len(scores)), key=scores.__getitem__)


def summarize(rows: list[dict], key: str) -> dict:
    picks = [pick(r[key]) for r in rows]
    n = len(rows)
    acc = sum(p == r["answer"] for p, r in zip(picks, rows, strict=True)) / n
    unequal = [(p, r) for p, r in zip(picks, rows, strict=True) if len(set(r["tokens"])) > 1]
    shortest = sum(r["tokens"][p] == min(r["tokens"]) for p, r in unequal) / max(len(unequal), 1)
    shortest_chance = sum(r["tokens"].count(min(r["tokens"])) / 4 for _, r in unequal) / max(len(unequal), 1)
    return {"accuracy": acc, "se": math.sqrt(acc * (1 - acc) / n), "n": n,
            "letter_share": [picks.count(i) / n for i in range(4)], "shortest": shortest,
            "shortest_chance": shortest_chance, "unequal": len(unequal), "picks": picks}


def train_models(ctx: ExperimentContext) -> dict[str, tuple[nn.Module, MiniMindTokenizer, bool]]:
    s = (dict(hidden_size=64, pre_steps=60, pre_seq=64, sft_steps=30) if ctx.quick else
         dict(hidden_size=128, pre_steps=600, pre_seq=128, sft_steps=200))
    pre = run_stage("pretrain", ctx.out_dir, hidden_size=s["hidden_size"], max_seq_len=s["pre_seq"],
                    max_steps=s["pre_steps"], eval_batches=2, seed=ctx.seed, from_weight="none",
                    precision=ctx.precision)
    sft = run_stage("sft", ctx.out_dir, hidden_size=s["hidden_size"], max_seq_len=128, max_steps=s["sft_steps"],
                    eval_batches=2, seed=ctx.seed, from_weight="pretrain",
                    precision=ctx.precision)
    torch.manual_seed(ctx.seed)
    untrained = MiniMindForCausalLM(pre.model.config).eval()
    ctx.log("Lab models (hidden {h}, 2 layers, vocab {v}): pretrained {p} steps (held-out bpb {pb:.3f}), then SFT "
            "{s} steps (held-out bpb on assistant tokens {sb:.3f}); seed {seed}.",
            "实验室规模的模型(hidden {h}、2 层、词表 {v}):预训练 {p} 步(验证集 bpb {pb:.3f}),再做 {s} 步 SFT"
            "(assistant token 上的验证集 bpb {sb:.3f});种子 {seed}。", h=s["hidden_size"],
            v=pre.tokenizer.vocab_size, p=s["pre_steps"], pb=pre.summary.final_eval["val_bpb"], s=s["sft_steps"],
            sb=sft.summary.final_eval["val_bpb"], seed=ctx.seed)
    # option_scores prompts the chat template for every stage after pretraining (is_chat_model)
    return {"untrained": (untrained, pre.tokenizer, False), "pretrain": (pre.model, pre.tokenizer, False),
            "sft": (sft.model, sft.tokenizer, True)}


def max_gap_to_option_scores(model: nn.Module, tok: MiniMindTokenizer, questions: list[MCQuestion], chat: bool,
                             rows: list[dict]) -> float:
    """Our batched scores against the project's option_scores, on a few questions."""
    gap = 0.0
    for q, r in zip(questions, rows, strict=False):
        ref = option_scores(model, tok, q, chat)
        gap = max(gap, *(abs(ref[k] - r["mean"][i]) for i, k in enumerate(LETTERS)))
    return gap


def verbatim_in_training(questions: list[MCQuestion]) -> int:
    """How many exam questions appear word for word in the pretraining or SFT files."""
    text = "\n".join((data_dir() / name).read_text(encoding="utf-8") for name in ("pretrain.jsonl", "sft.jsonl"))
    return sum(json.dumps(q.question, ensure_ascii=False)[1:-1] in text for q in questions)


def run(ctx: ExperimentContext) -> None:
    torch.set_num_threads(1)  # small matrices: one thread is fastest and steady on a busy CPU
    questions = read_mc(data_dir() / "eval_mc.jsonl")
    questions = questions[:160] if ctx.quick else questions  # the first 160 keep the answers at 40 per letter
    models = train_models(ctx)
    rows = {name: score_questions(m, tok, questions, chat) for name, (m, tok, chat) in models.items()}
    gap = max(max_gap_to_option_scores(m, tok, questions[:4], chat, rows[name])
              for name, (m, tok, chat) in models.items())
    stats = {name: {key: summarize(r, key) for key in SCORERS} for name, r in rows.items()}
    ctx.metric("scores", {name: {k: {kk: vv for kk, vv in v.items() if kk != "picks"} for k, v in s.items()}
                          for name, s in stats.items()})
    answers = [LETTERS.index(q.answer) for q in questions]
    ctx.table({"en": f"Accuracy on {len(questions)} questions (± one binomial standard error; chance 25%)",
               "zh": f"{len(questions)} 道题上的准确率(± 一个二项标准误;随机猜测 25%)"},
              ["model", *(SCORERS[k][0] for k in SCORERS)],
              [[name, *(f"{s[k]['accuracy']:.1%} ± {s[k]['se']:.1%}" for k in SCORERS)] for name, s in stats.items()])
    ctx.table({"en": "How often each letter is picked (the answer key has 25% each), and the shortest option",
               "zh": "每个字母被选中的比例(标准答案每个字母各占 25%),以及选中最短选项的比例"},
              ["model", "scorer", "A", "B", "C", "D", "picks the shortest", "shortest by chance"],
              [[name, k, *s[k]["letter_share"], s[k]["shortest"], s[k]["shortest_chance"]]
               for name, s in stats.items() for k in SCORERS])
    subject_table(ctx, rows, stats)
    ctx.metric("answer_key_share", [answers.count(i) / len(answers) for i in range(4)])
    findings(ctx, stats, rows, gap)
    error_analysis(ctx, questions, rows, stats)
    contamination(ctx, questions)
    ceval(ctx, models)
    plot(ctx, stats)


def subject_table(ctx: ExperimentContext, rows: dict, stats: dict) -> None:
    subjects = sorted({r["subject"] for r in next(iter(rows.values()))})
    table = []
    for subject in subjects:
        line = [subject]
        for name, rs in rows.items():
            hits = [p == r["answer"] for p, r in zip(stats[name]["mean"]["picks"], rs, strict=True)
                    if r["subject"] == subject]
            acc = sum(hits) / len(hits)
            line.append(f"{acc:.1%} ± {math.sqrt(acc * (1 - acc) / len(hits)):.1%} (n={len(hits)})")
        table.append(line)
    ctx.table({"en": "Accuracy per subject, option_scores (mean log-prob per token)",
               "zh": "分学科准确率,option_scores(每 token 平均对数概率)"}, ["subject", *rows], table)


def findings(ctx: ExperimentContext, stats: dict, rows: dict, gap: float) -> None:
    ctx.code_fact(
        "The batched scorer of this experiment reproduces option_scores, the function behind `minimind eval mc`: "
        "largest difference {g:.1e}",
        "本实验的批量打分与 `minimind eval mc` 背后的 option_scores 一致:最大差 {g:.1e}",
        Bar({"en": "largest difference", "zh": "最大差"}, gap, "<", 1e-4), g=gap)
    acc = {name: s["mean"] for name, s in stats.items()}
    z = {name: (a["accuracy"] - CHANCE) / max(a["se"], 1e-9) for name, a in acc.items()}
    ctx.finding(
        "Accuracy with option_scores: untrained {u:.1%} ± {us:.1%}, pretrained {p:.1%} ± {ps:.1%}, SFT {s:.1%} ± "
        "{ss:.1%}, i.e. {zu:+.1f} / {zp:+.1f} / {zs:+.1f} standard errors from chance. The untrained model is "
        "chance, as it must be",
        "用 option_scores 的准确率:未训练 {u:.1%} ± {us:.1%},预训练 {p:.1%} ± {ps:.1%},SFT {s:.1%} ± {ss:.1%},"
        "即离随机猜测分别 {zu:+.1f} / {zp:+.1f} / {zs:+.1f} 个标准误。未训练的模型就是随机水平,理应如此",
        Bar({"en": "untrained: |standard errors from 25%|", "zh": "未训练:与 25% 相差的标准误个数"},
            abs(z["untrained"]), "<", 3), u=acc["untrained"]["accuracy"], us=acc["untrained"]["se"],
        p=acc["pretrain"]["accuracy"], ps=acc["pretrain"]["se"], s=acc["sft"]["accuracy"], ss=acc["sft"]["se"],
        zu=z["untrained"], zp=z["pretrain"], zs=z["sft"])
    u = stats["untrained"]
    ctx.metric("untrained_sum_shortest", u["sum"]["shortest"])  # flat keys: the numbers the teaching text quotes
    ctx.finding(
        "Normalization matters: for the untrained model, whose every token costs about ln(vocab), the summed "
        "log-prob picks the option with the fewest tokens in {s:.0%} of the {n} questions whose options differ in "
        "length; the mean per token picks it in {m:.0%} (the shortest by chance: {c:.0%})",
        "归一化方式很重要:未训练模型的每个 token 都要付出约 ln(词表大小) 的代价,在选项长度不等的 {n} 道题里,"
        "对数概率之和有 {s:.0%} 选中 token 最少的选项;按每 token 平均只有 {m:.0%}(随机选中最短的概率:{c:.0%})",
        [Bar({"en": "sum: shortest picked", "zh": "求和:选中最短的比例"}, u["sum"]["shortest"], ">", 0.9),
         Bar({"en": "sum minus mean", "zh": "求和减平均"}, u["sum"]["shortest"] - u["mean"]["shortest"], ">=", 0.2)],
        s=u["sum"]["shortest"], m=u["mean"]["shortest"], c=u["mean"]["shortest_chance"], n=u["sum"]["unequal"])
    top = {name: max(s["letter"]["letter_share"]) for name, s in stats.items()}
    cloze = max(max(s["mean"]["letter_share"]) for s in stats.values())
    ctx.finding(
        "Asked for a letter after the listed options, every model has a favourite: its most picked letter takes "
        "{t} of the answers (untrained / pretrained / SFT), so its {a} accuracy says little. option_scores never "
        "shows letters or the other options, and its most picked letter takes at most {c:.0%}",
        "列出选项再问字母时,每个模型都有偏爱的字母:最常选的那个字母占了 {t} 的回答(未训练 / 预训练 / SFT),"
        "所以它 {a} 的准确率说明不了什么。option_scores 从不展示字母和其他选项,最常选的字母最多只占 {c:.0%}",
        [Bar({"en": "smallest favourite-letter share", "zh": "最小的偏爱字母占比"}, min(top.values()), ">", 0.5),
         Bar({"en": "option_scores' largest letter share", "zh": "option_scores 最大的字母占比"}, cloze, "<=", 0.4)],
        t=" / ".join(f"{v:.0%}" for v in top.values()),
        a=" / ".join(f"{s['letter']['accuracy']:.0%}" for s in stats.values()), c=cloze)
    same = {name: blind_agreement(rows[name], stats[name]["mean"]["picks"]) for name in rows}
    ctx.metric("sft_blind_agreement", same["sft"])
    ctx.finding(
        "The SFT model mostly ignores the question: its option_scores pick is the option it prefers when the "
        "question is replaced by just 'Answer:' ('答案:' for Chinese questions) in {s:.0%} of the questions "
        "(pretrained model: {p:.0%}, untrained: {u:.0%}). Its likelihood measures which reply sounds usual, not "
        "which is right",
        "SFT 模型大多没在看题:它用 option_scores 选出的答案,在 {s:.0%} 的题里与把题目换成 'Answer:'(中文题为 '答案:')"
        "后最偏爱的选项相同(预训练模型:{p:.0%},未训练:{u:.0%})。它的似然衡量的是哪个回复听起来寻常,而不是哪个对",
        Bar({"en": "SFT: same pick without the question", "zh": "SFT:与不看问题时选择相同的比例"},
            same["sft"], ">", 0.6),
        p=same["pretrain"], s=same["sft"], u=same["untrained"])


def blind_agreement(rows: list[dict], picks: list[int]) -> float:
    return sum(p == pick(r["blind"]) for p, r in zip(picks, rows, strict=True)) / len(rows)


def error_analysis(ctx: ExperimentContext, questions: list[MCQuestion], rows: dict, stats: dict) -> None:
    best = max(("pretrain", "sft"), key=lambda name: stats[name]["mean"]["accuracy"])
    rs, picks = rows[best], stats[best]["mean"]["picks"]
    wrong = [(q, r, p) for q, r, p in zip(questions, rs, picks, strict=True) if p != r["answer"]]
    margin = lambda r, p: r["mean"][p] - r["mean"][r["answer"]]  # how sure the wrong pick was
    wrong.sort(key=lambda item: -margin(item[1], item[2]))
    ctx.metric("errors", [{"question": q.question, "subject": q.subject, "chosen": LETTERS[p], "answer": q.answer,
                           "margin": margin(r, p), "blind_pick": LETTERS[pick(r["blind"])]} for q, r, p in wrong])
    ctx.table({"en": f"Error analysis, {best} model: its most confident mistakes (margin = mean log-prob of its "
                     "choice minus the right option's)",
               "zh": f"错误分析,{best} 模型:它最有把握的错误(差值 = 所选选项与正确选项的每 token 平均对数概率之差)"},
              ["subject", "question", "chose", "answer", "margin", "also its pick without the question"],
              [[q.subject, q.question[:48], f"{LETTERS[p]}: {q.options[LETTERS[p]][:16]}",
                f"{q.answer}: {q.options[q.answer][:16]}", margin(r, p), LETTERS[p] == LETTERS[pick(r["blind"])]]
               for q, r, p in wrong[:12]])
    by_subject = {}
    for q, r, p in wrong:
        by_subject.setdefault(q.subject, []).append(pick(r["blind"]) == p)
    totals = {s: sum(r["subject"] == s for r in rs) for s in by_subject}
    ctx.table({"en": f"Errors of the {best} model by subject", "zh": f"{best} 模型的错误按学科汇总"},
              ["subject", "wrong", "of", "error rate", "wrong pick = pick without the question"],
              [[s, len(v), totals[s], len(v) / totals[s], sum(v) / len(v)] for s, v in sorted(by_subject.items())])
    prior = sum(pick(r["blind"]) == p for _, r, p in wrong) / max(len(wrong), 1)
    ctx.finding(
        "Error analysis of the trained model with the higher accuracy ({b}, {w} of {n} wrong): {e:.0%} of its "
        "wrong answers are the option it also picks without seeing the question, so most errors come from the "
        "options' prior likelihood, not from misreading a question",
        "对准确率较高的那个训练模型({b},{n} 题错 {w} 题)做错误分析:它答错的题中有 {e:.0%},选的正是不看问题时也会选的"
        "选项,所以大多数错误来自选项本身的先验似然,而不是读错了问题",
        Bar({"en": "wrong answers = pick without the question", "zh": "错答 = 不看问题时的选择"}, prior, ">", 0.5),
        b=best, w=len(wrong), n=len(rs), e=prior)


def contamination(ctx: ExperimentContext, questions: list[MCQuestion]) -> None:
    found = verbatim_in_training(questions)
    ctx.finding(
        "Contamination check: {f} of the {n} exam questions appear word for word in pretrain.jsonl or sft.jsonl; "
        "the generator phrases exam questions differently from training text",
        "污染检查:{n} 道考题中有 {f} 道一字不差地出现在 pretrain.jsonl 或 sft.jsonl 里;数据生成器给考题用了与"
        "训练文本不同的措辞", Bar({"en": "questions found verbatim", "zh": "一字不差出现的考题"}, found, "<=", 0),
        f=found, n=len(questions))


def ceval_files() -> list[Path]:
    """MINIMIND_CEVAL (a CSV/JSONL file or a folder of CSVs), else dataset/ceval/val if it exists."""
    where = os.environ.get("MINIMIND_CEVAL")
    path = Path(where) if where else Path("dataset") / "ceval" / "val"
    if path.is_file():
        return [path]
    if path.is_dir():  # the test split has no answers; use val (and dev) files
        return sorted(p for p in path.glob("*.csv") if not p.stem.endswith("_test"))
    return []


def ceval(ctx: ExperimentContext, models: dict) -> None:
    files = ceval_files()
    if not files:
        ctx.log("C-Eval skipped: no file. C-Eval is not in `minimind data list`; its release (ceval-exam.zip, "
                "linked from cevalbenchmark.com) unzips to dev/, val/ and test/ CSVs with question, A-D, answer. "
                "Unzip it to dataset/ceval/ or set MINIMIND_CEVAL to a CSV file or the val/ folder, then run again "
                "(or: minimind eval mc --data FILE.csv).",
                "跳过 C-Eval:没有找到文件。C-Eval 不在 `minimind data list` 里;它的发布包(ceval-exam.zip,"
                "cevalbenchmark.com 上有链接)解压后是 dev/、val/、test/ 三个文件夹的 CSV,列为 question、A-D、answer。"
                "解压到 dataset/ceval/,或把 MINIMIND_CEVAL 设为某个 CSV 文件或 val/ 文件夹,再运行一次"
                "(也可以:minimind eval mc --data FILE.csv)。")
        ctx.metric("ceval", None)
        return
    questions = [q for f in files for q in read_mc(f)]
    if ctx.quick:
        questions = questions[:: max(1, len(questions) // 200)][:200]
    results = {name: multiple_choice(m, tok, questions, chat) for name, (m, tok, chat) in models.items()
               if name != "untrained"}
    ctx.metric("ceval", {name: {"accuracy": r.accuracy, "n": len(questions), "by_subject": r.by_subject}
                         for name, r in results.items()})
    ctx.table({"en": f"C-Eval ({len(files)} file(s), {len(questions)} questions), option_scores; chance 25%",
               "zh": f"C-Eval({len(files)} 个文件,{len(questions)} 道题),option_scores;随机猜测 25%"},
              ["model", "accuracy", "± standard error", "subjects"],
              [[name, r.accuracy, math.sqrt(r.accuracy * (1 - r.accuracy) / len(questions)), len(r.by_subject)]
               for name, r in results.items()])


def plot(ctx: ExperimentContext, stats: dict) -> None:
    plt = ctx.plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    names, keys = list(stats), list(SCORERS)
    width = 0.8 / len(keys)
    for j, key in enumerate(keys):
        xs = [i + (j - (len(keys) - 1) / 2) * width for i in range(len(names))]
        left.bar(xs, [stats[n][key]["accuracy"] for n in names], width,
                 yerr=[2 * stats[n][key]["se"] for n in names], capsize=2, label=key)
    left.axhline(CHANCE, color="grey", ls="--", lw=1, label="chance")
    left.set_xticks(range(len(names)), names)
    left.set_ylabel("accuracy (± 2 standard errors)")
    left.set_ylim(0, 0.7)  # room for the legend above the bars
    left.legend(fontsize=7, ncol=3, loc="upper center", title="scorer", title_fontsize=7)
    bottom = [0.0] * (len(names) * 2)
    labels = [f"{n}\n{k}" for n in names for k in ("mean", "letter")]
    for i, letter in enumerate(LETTERS):
        share = [stats[n][k]["letter_share"][i] for n in names for k in ("mean", "letter")]
        right.bar(labels, share, bottom=bottom, label=letter)
        bottom = [b + s for b, s in zip(bottom, share, strict=True)]
    right.set_ylabel("share of picks")
    right.tick_params(axis="x", labelsize=7)
    right.legend(title="picked", fontsize=7)
    fig.suptitle("Multiple choice by likelihood: accuracy and which letter gets picked")
    ctx.savefig(fig, "multiple_choice.png")


if __name__ == "__main__":
    main(__file__)
