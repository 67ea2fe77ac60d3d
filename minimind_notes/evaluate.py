"""Evaluation, for trainers, experiments and the CLI alike: held-out loss, perplexity and bits per
byte; multiple-choice accuracy by option likelihood (C-Eval / MMLU rows: question, A-D, answer);
DPO's preference accuracy; the arithmetic reward and the accuracy of sampled or greedy replies."""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from minimind_notes.data.chat_cache import DPODataset
from minimind_notes.data.datasets import IGNORE
from minimind_notes.data.jsonl import DataError, iter_jsonl, read_text_utf8, require_file
from minimind_notes.data.tokenizer import MiniMindTokenizer

LETTERS = ("A", "B", "C", "D")


def perplexity(model: nn.Module, tok: MiniMindTokenizer, path: str | os.PathLike, seq_len: int = 256,
               max_windows: int = 200, batch_size: int = 8, skip_bad: bool | None = None) -> dict[str, float]:
    """Loss, perplexity and bits per byte over the first windows of a pretraining-format file
    (broken lines stop it, or with skip_bad are skipped and counted: see `prepare`)."""
    import tempfile

    from minimind_notes.data.datasets import TokenWindows
    from minimind_notes.data.pretokenize import prepare

    with tempfile.TemporaryDirectory() as tmp:
        packed = prepare(path, tok, out_dir=Path(tmp), skip_bad=skip_bad)
        tokens = packed.tokens
        windows = TokenWindows(tokens, min(seq_len, len(tokens) - 1)).all_windows(max_windows)
    device = next(model.parameters()).device
    return {**lm_metrics(model, windows, windows, tok, batch_size, device), "tokens": int(windows.numel()),
            "skipped_lines": packed.meta["skipped_lines"]}


@dataclass
class MCQuestion:
    question: str
    options: dict[str, str]
    answer: str
    subject: str = "all"
    where: str = ""


def read_mc(path: str | os.PathLike) -> list[MCQuestion]:
    """JSONL or CSV rows with question, A, B, C, D, answer (and optionally subject)."""
    path = require_file(path)
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(read_text_utf8(path), newline=""))
        try:
            rows = [(reader.line_num, r) for r in reader]  # line_num: where the row ends (fields may span lines)
        except csv.Error as e:
            raise DataError(f"{path}:{reader.line_num}: not valid CSV ({e})") from e
        subject = path.stem.removesuffix("_val").removesuffix("_dev").removesuffix("_test")
    else:
        rows, subject = list(iter_jsonl(path)), "all"
    out = []
    for line, row in rows:
        where = f"{path}:{line}"
        missing = [k for k in ("question", *LETTERS, "answer") if not str(row.get(k) or "").strip()]
        if missing:
            raise DataError(f"{where}: missing {', '.join(missing)}",
                            hint="rows need question, A, B, C, D and answer (a letter)")
        answer = str(row["answer"]).strip().upper()
        if answer not in LETTERS:
            raise DataError(f"{where}: answer {row['answer']!r} is not one of A, B, C, D")
        out.append(MCQuestion(str(row["question"]), {k: str(row[k]) for k in LETTERS}, answer,
                              str(row.get("subject") or subject), where))
    if not out:
        raise DataError(f"{path}: no questions (empty dataset)")
    return out


@dataclass
class MCResult:
    accuracy: float
    by_subject: dict[str, tuple[int, int]]  # subject -> (correct, total)
    wrong: list[tuple[MCQuestion, str]] = field(default_factory=list)  # (question, predicted letter)


@torch.no_grad()
def option_scores(model: nn.Module, tok: MiniMindTokenizer, q: MCQuestion, chat: bool) -> dict[str, float]:
    """Mean log-probability per token of each option's text given the question."""
    if chat:
        prompt = tok.apply_chat_template([{"role": "user", "content": q.question}], add_generation_prompt=True,
                                         tokenize=True)
    else:
        prompt = [tok.bos_token_id, *tok.encode_plain(q.question + " ")]
    device = next(model.parameters()).device
    window = model.config.max_position_embeddings
    scores = {}
    for letter, text in q.options.items():
        option = tok.encode_plain(text)
        if len(prompt) + len(option) > window:
            raise DataError(f"{q.where}: the question and option {letter} take {len(prompt) + len(option)} tokens, "
                            f"more than the model's window of {window}", hint="shorten that row or leave it out")
        ids = torch.tensor([prompt + option], device=device)
        logp = F.log_softmax(model(ids).logits[0, len(prompt) - 1:-1].float(), dim=-1)
        scores[letter] = float(logp.gather(1, ids[0, len(prompt):, None]).mean())
    return scores


def multiple_choice(model: nn.Module, tok: MiniMindTokenizer, questions: list[MCQuestion],
                    chat: bool = True) -> MCResult:
    model.eval()
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong = []
    for q in questions:
        scores = option_scores(model, tok, q, chat)
        predicted = max(scores, key=scores.get)
        tally[q.subject][1] += 1
        if predicted == q.answer:
            tally[q.subject][0] += 1
        else:
            wrong.append((q, predicted))
    correct = sum(c for c, _ in tally.values())
    return MCResult(correct / len(questions), {s: (c, n) for s, (c, n) in sorted(tally.items())}, wrong)


@torch.no_grad()
def lm_metrics(model: nn.Module, ids: torch.Tensor, labels: torch.Tensor, tok: MiniMindTokenizer,
               batch_size: int, device: torch.device) -> dict[str, float]:
    """Summed next-token NLL over label tokens -> mean loss, perplexity, bits per byte."""
    was_training = model.training
    model.eval()
    nll, n_tokens, n_bytes = 0.0, 0, 0
    token_bytes = torch.tensor(tok.token_bytes)
    for i in range(0, len(ids), batch_size):
        x, y = ids[i:i + batch_size].to(device), labels[i:i + batch_size].to(device)
        logits = model(x).logits[:, :-1].float()
        target = y[:, 1:]
        mask = target != IGNORE
        nll += float(F.cross_entropy(logits[mask], target[mask], reduction="sum"))
        n_tokens += int(mask.sum())
        n_bytes += int(token_bytes[target[mask].cpu()].sum())
    model.train(was_training)
    loss = nll / max(n_tokens, 1)
    return {"val_loss": loss, "val_ppl": math.exp(min(loss, 50)),
            "val_bpb": nll / math.log(2) / max(n_bytes, 1)}


def sequence_logps(model: nn.Module, ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean log-probability of each row's label tokens (the assistant reply): (B,)."""
    logits = model(ids).logits[:, :-1].float()
    target = labels[:, 1:]
    mask = target != IGNORE
    logp = torch.gather(logits.log_softmax(-1), 2, target.clamp(min=0)[..., None]).squeeze(-1)
    return (logp * mask).sum(-1) / mask.sum(-1).clamp(min=1)


@torch.no_grad()
def pair_logps(model: nn.Module, data: DPODataset, batch_size: int = 32) -> torch.Tensor:
    """Mean log-prob per reply token of every pair's chosen and rejected reply: (N, 2)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(data), batch_size):
        idx = list(range(start, min(len(data), start + batch_size)))
        ids, labels = (t.to(device) for t in data.batch(idx))  # (2b, T): the chosen rows, then the rejected
        lp = sequence_logps(model, ids, labels)
        out.append(torch.stack([lp[:len(idx)], lp[len(idx):]], dim=1))
    model.train(was_training)
    return torch.cat(out)


def reward_accuracy(margin: torch.Tensor) -> float:
    """Share of pairs whose implicit reward ranks chosen above rejected; an exact tie (policy ==
    reference) counts half, as a coin flip would."""
    return float(((margin > 0).float() + 0.5 * (margin == 0).float()).mean())


def reward(reply: str, answer: str) -> float:
    """1 if the last number in the reply is the answer, else 0: replies state the result last
    ("3 plus 3 is 6.", "9 × 5 = 45.", "The answer is 4.")."""
    numbers = re.findall(r"-?\d+", reply)
    return float(bool(numbers) and numbers[-1] == answer)


@dataclass
class Reply:
    prompt_ids: list[int]
    tokens: list[int]  # the completion, through <|im_end|> when it stopped
    text: str
    stopped: bool  # ended with <|im_end|> within the token budget


@torch.no_grad()
def sample_replies(model: nn.Module, tok: MiniMindTokenizer, prompts: list[str] | list[list[int]],
                   temperature: float = 1.0,
                   max_new_tokens: int = 16, generator: torch.Generator | None = None,
                   batch_size: int = 64) -> list[Reply]:
    """One reply per chat prompt (a user message, or the ids of a rendered conversation ending where the
    assistant's reply begins; repeat a prompt to draw several); temperature 0 = greedy. Prompts run
    in left-padded batches: the same tokens as one at a time (tests/test_alignment_lab.py)."""
    from minimind_notes.model.generation import SamplingConfig, generate, left_pad

    device = next(model.parameters()).device
    cfg = SamplingConfig(max_new_tokens=max_new_tokens, temperature=temperature, top_p=1.0,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    was_training = model.training
    model.eval()
    replies = []
    for start in range(0, len(prompts), batch_size):
        x, mask = left_pad([tok.user_prompt_ids(p) if isinstance(p, str) else p
                            for p in prompts[start:start + batch_size]], tok.pad_token_id)
        out = generate(model, x.to(device), attention_mask=mask.to(device), cfg=cfg, generator=generator)
        for row, keep, new in zip(x, mask, out[:, x.shape[1]:].tolist(), strict=True):
            stopped = tok.eos_token_id in new
            tokens = new[:new.index(tok.eos_token_id) + 1] if stopped else new
            replies.append(Reply(row[keep.bool()].tolist(), tokens, tok.decode(tokens, skip_special_tokens=True),
                                 stopped))
    model.train(was_training)
    return replies


@dataclass
class Accuracy:
    share: float  # of the replies, those the reward counts as right
    replies: list[Reply]  # `samples` per row, in the rows' order
    rewards: list[float]  # of each reply


def arithmetic_accuracy(model: nn.Module, tok: MiniMindTokenizer,
                        rows: list[tuple[str, str]] | list[tuple[list[int], str]], max_new_tokens: int = 16,
                        temperature: float = 0.0, samples: int = 1, seed: int = 0, batch_size: int = 64) -> Accuracy:
    """How often replies to (prompt, answer) rows state the answer: the greedy reply (temperature 0), or
    `samples` replies per prompt drawn at `temperature` from a generator seeded with `seed`."""
    device = next(model.parameters()).device
    prompts = [p for p, _ in rows for _ in range(samples)]
    answers = [a for _, a in rows for _ in range(samples)]
    generator = torch.Generator(device=device).manual_seed(seed) if temperature > 0 else None
    replies = sample_replies(model, tok, prompts, temperature, max_new_tokens, generator, batch_size)
    rewards = [reward(r.text, a) for r, a in zip(replies, answers, strict=True)]
    return Accuracy(sum(rewards) / max(len(rewards), 1), replies, rewards)


# --------------------------------------------------------------------------- published benchmarks

@dataclass(frozen=True)
class Benchmark:
    """How a published multiple-choice benchmark lays out its CSV files and words its prompt."""

    name: str
    scored: str  # the split with answers that is scored (C-Eval's test split has none: its val split is scored)
    header: bool  # MMLU's CSV files have no header row
    intro: str  # the prompt's first line; {subject} is filled in
    question: str  # one question; {question}, {A}..{D} are filled in; the answer letter follows it
    letter_prefix: str  # what precedes the answer letter (MMLU: "Answer: A")

    def files(self, folder: Path, split: str) -> dict[str, Path]:
        """subject -> CSV of one split, wherever the archive put the split's folder."""
        found = {}
        for path in sorted(folder.rglob(f"{split}/*.csv")):
            found[path.stem.removesuffix(f"_{split}")] = path
        return found


BENCHMARKS = {
    "ceval": Benchmark("ceval", "val", True, "以下是中国关于{subject}考试的单项选择题，请选出其中的正确答案。\n\n",
                       "{question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\n答案：", ""),
    "cmmlu": Benchmark("cmmlu", "test", True, "以下是关于{subject}的单项选择题，请直接给出正确答案的选项。\n\n",
                       "题目：{question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\n答案是：", ""),
    "mmlu": Benchmark("mmlu", "test", False,
                      "The following are multiple choice questions (with answers) about {subject}.\n\n",
                      "{question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer:", " "),
}


def read_benchmark_csv(path: Path, bench: Benchmark, subject: str) -> list[MCQuestion]:
    """One subject's CSV in the benchmark's published layout: C-Eval id,question,A,B,C,D,answer[,explanation];
    CMMLU (index),Question,A,B,C,D,Answer; MMLU no header, question,A,B,C,D,answer."""
    text = read_text_utf8(path).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if bench.header:
        if not rows:
            raise DataError(f"{path}: empty file, expected a header row")
        names = [h.strip().lower() for h in rows[0]]
        try:
            at = [names.index(k) for k in ("question", "a", "b", "c", "d", "answer")]
        except ValueError:
            raise DataError(f"{path}:1: header {rows[0]} lacks question, A, B, C, D or answer",
                            hint=f"{bench.name} files are read as published; is this the {bench.name} archive?"
                            ) from None
        rows = rows[1:]
        first_line = 2
    else:
        at, first_line = [0, 1, 2, 3, 4, 5], 1
    out = []
    for i, row in enumerate(rows):
        where = f"{path}:{first_line + i}"
        if len(row) <= max(at):
            raise DataError(f"{where}: {len(row)} fields, expected question, A, B, C, D and answer")
        question, *options, answer = (row[j].strip() for j in at)
        if answer.upper() not in LETTERS:
            raise DataError(f"{where}: answer {answer!r} is not one of A, B, C, D")
        out.append(MCQuestion(question, dict(zip(LETTERS, options, strict=True)), answer.upper(), subject, where))
    return out


def subject_names(folder: Path, bench: Benchmark) -> dict[str, str]:
    """How the prompt names a subject: C-Eval's Chinese names from its subject_mapping.json when it is beside
    the files, else the file name with spaces (MMLU's own rule)."""
    mapping = next(iter(sorted(folder.rglob("subject_mapping.json"))), None) if bench.name == "ceval" else None
    if mapping is None:
        return {}
    import json

    return {k: v[1] for k, v in json.loads(read_text_utf8(mapping)).items() if isinstance(v, list) and len(v) > 1}


@dataclass
class BenchmarkResult:
    benchmark: str
    shots: int
    accuracy: float  # over all questions
    macro_accuracy: float  # the mean of the subjects' accuracies
    by_subject: dict[str, tuple[int, int]]  # subject -> (correct, total)
    fewer_shots: int  # questions whose prompt held fewer shots to fit the model's window
    truncated: int  # questions cut from the left even with no shot
    chance: float = 0.25


def benchmark_prompt(bench: Benchmark, subject_name: str, q: MCQuestion, shots: list[MCQuestion]) -> str:
    """The benchmark's own prompt: its intro, the shots with their answers, then the question."""
    def block(x: MCQuestion) -> str:
        return bench.question.format(question=x.question, **x.options)

    solved = "".join(f"{block(s)}{bench.letter_prefix}{s.answer}\n\n" for s in shots)
    return bench.intro.format(subject=subject_name) + solved + block(q)


def letter_ids(tok: MiniMindTokenizer, prefix: str) -> tuple[list[int], bool]:
    """The token of each answer letter as it follows the prompt, and whether `prefix` must end the prompt
    instead (when the tokenizer splits " A" into " " and "A")."""
    with_prefix = [tok.encode_plain(prefix + letter) for letter in LETTERS]
    if all(len(ids) == 1 for ids in with_prefix):
        return [ids[0] for ids in with_prefix], False
    bare = [tok.encode_plain(letter) for letter in LETTERS]
    if all(len(ids) == 1 for ids in bare):
        return [ids[0] for ids in bare], True
    raise DataError(f"this tokenizer has no single token for each of A, B, C, D ({tok.describe()})")


@torch.no_grad()
def run_benchmark(model: nn.Module, tok: MiniMindTokenizer, name: str, folder: str | os.PathLike, shots: int = 0,
                  limit: int | None = None) -> BenchmarkResult:
    """Accuracy on a published benchmark: per question, the next-token logits of A, B, C and D after the
    benchmark's prompt (with `shots` solved dev questions of the same subject), the largest one is the answer."""
    bench, folder = BENCHMARKS[name], Path(folder)
    scored, dev = bench.files(folder, bench.scored), bench.files(folder, "dev")
    if not scored:
        raise DataError(f"{folder}: no {bench.scored}/*.csv files of {name}",
                        hint=f"download them with `minimind data download {name}` (they unpack into "
                             f"dataset/{name}) and pass that folder with --data")
    if shots and not dev:
        raise DataError(f"{folder}: no dev/*.csv files for the {shots}-shot prompt", hint="use --shots 0")
    names = subject_names(folder, bench)
    ids_of, prefix_in_prompt = letter_ids(tok, bench.letter_prefix)
    device = next(model.parameters()).device
    window = model.config.max_position_embeddings
    model.eval()
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    fewer, truncated = 0, 0
    for subject, path in scored.items():
        examples = read_benchmark_csv(dev[subject], bench, subject)[:shots] if shots and subject in dev else []
        subject_name = names.get(subject, subject.replace("_", " "))
        for q in read_benchmark_csv(path, bench, subject)[:limit]:
            for k in range(len(examples), -1, -1):  # the fewest shots dropped that fit the window
                text = benchmark_prompt(bench, subject_name, q, examples[:k])
                ids = [tok.bos_token_id, *tok.encode_plain(text + (bench.letter_prefix if prefix_in_prompt else ""))]
                if len(ids) <= window:
                    break
            fewer += k < len(examples)
            truncated += len(ids) > window
            logits = model(torch.tensor([ids[-window:]], device=device)).logits[0, -1]
            predicted = LETTERS[int(logits[ids_of].argmax())]
            tally[subject][0] += predicted == q.answer
            tally[subject][1] += 1
    correct, total = sum(c for c, _ in tally.values()), sum(n for _, n in tally.values())
    return BenchmarkResult(name, shots, correct / total, sum(c / n for c, n in tally.values()) / len(tally),
                           {s: (c, n) for s, (c, n) in sorted(tally.items())}, fewer, truncated)


def pass_at_1(rewards: list[float], samples: int) -> tuple[float, float]:
    """pass@1 from `samples` replies per prompt (rewards in prompt order) and its standard error over prompts:
    the spread of the per-prompt means, so prompts that are always right or always wrong count as such."""
    per_prompt = torch.tensor(rewards, dtype=torch.float64).view(-1, samples).mean(1)
    se = float(per_prompt.std() / len(per_prompt) ** 0.5) if len(per_prompt) > 1 else math.nan
    return float(per_prompt.mean()), se
