"""The embedded sample corpus: regenerates byte-identically, has the promised sizes, formats and splits."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tools.corpus import build_sample
from tools.corpus.build import VAL_ROWS
from tools.corpus.world import build_world

DATA = Path(__file__).resolve().parents[1] / "data"
SPLIT = ("pretrain", "sft", "dpo", "lora_identity", "rl_arithmetic")
FILES = [f"{name}{part}.jsonl" for name in SPLIT for part in ("", "_val")] + ["eval_mc.jsonl"]
MIN_ROWS = {"sft": 2100, "dpo": 550, "lora_identity": 120, "rl_arithmetic": 1000}


def rows(name: str) -> list[dict]:
    with open(DATA / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("sample")
    return out, build_sample(out)


def test_regenerates_byte_identical(regenerated):
    out, counts = regenerated
    assert sorted(counts) == sorted(FILES)
    for name in FILES:
        assert (out / name).read_bytes() == (DATA / name).read_bytes(), f"{name} differs: regenerate data/"
        assert counts[name] == len(rows(name))


def test_sizes():
    assert (DATA / "pretrain.jsonl").stat().st_size >= 3_200_000
    for name, minimum in MIN_ROWS.items():
        assert len(rows(f"{name}.jsonl")) >= minimum, name
    assert len(rows("eval_mc.jsonl")) >= 300


@pytest.mark.parametrize("name", SPLIT)
def test_train_and_val_are_disjoint(name):
    train = {json.dumps(r, sort_keys=True) for r in rows(f"{name}.jsonl")}
    val = [json.dumps(r, sort_keys=True) for r in rows(f"{name}_val.jsonl")]
    assert val and not train.intersection(val)
    if name in VAL_ROWS:  # fixed, larger held-out sets where the closing figure is an accuracy
        assert len(val) == VAL_ROWS[name]
    else:
        assert 0.03 <= len(val) / (len(train) + len(val)) <= 0.07


@pytest.mark.parametrize("name", ["sft", "sft_val", "dpo", "dpo_val"])
def test_only_the_lora_set_teaches_the_name(name):
    """The SFT model must not know who it is, so that LoRA's effect on "who are you?" shows."""
    text = (DATA / f"{name}.jsonl").read_text(encoding="utf-8")
    assert "MiniMind" not in text and "minimind-notes" not in text


def test_pretrain_documents():
    docs = [r["text"] for r in rows("pretrain.jsonl") + rows("pretrain_val.jsonl")]
    assert all(set(r) == {"text"} for r in rows("pretrain_val.jsonl"))
    assert all(200 <= len(d) <= 1500 for d in docs)
    chinese = [d for d in docs if re.search(r"[\u4e00-\u9fff]", d)]
    assert 0.3 <= len(chinese) / len(docs) <= 0.5
    assert not [d for d in chinese if re.search(r"[A-Za-z]", d)]  # each document in one language


def test_world_facts_are_consistent():
    world = build_world(1234)
    by_en, by_zh = {p.en: p for p in world.people}, {p.zh: p for p in world.people}
    checked = 0
    for doc in (r["text"] for r in rows("pretrain.jsonl")):
        for name, town in re.findall(r"\b([A-Z][a-z]+) lives in ([A-Z][a-z]+)\.", doc):
            if name in by_en:  # not "He lives in ..."
                assert by_en[name].town.en == town
                checked += 1
        for name, age in re.findall(r"\b([A-Z][a-z]+) is (\d+) years old\.", doc):
            assert by_en[name].age == int(age)
            checked += 1
        for name, job in re.findall(r"([\u4e00-\u9fff]+)是一名([\u4e00-\u9fff]+)。", doc):
            if name in by_zh:
                assert by_zh[name].job.zh == job
                checked += 1
    assert checked > 1000


def check_messages(messages: list[dict]) -> None:
    roles = [m["role"] for m in messages]
    if roles[0] == "system":
        roles = roles[1:]
    assert roles and len(roles) % 2 == 0
    assert roles == ["user", "assistant"] * (len(roles) // 2)
    assert all(isinstance(m["content"], str) and m["content"] for m in messages)


@pytest.mark.parametrize("name", ["sft.jsonl", "sft_val.jsonl", "lora_identity.jsonl",
                                  "lora_identity_val.jsonl"])
def test_conversations(name):
    for row in rows(name):
        assert set(row) == {"conversations"}
        check_messages(row["conversations"])
        assert len([m for m in row["conversations"] if m["role"] == "user"]) <= 3


def test_identity_always_names_itself():
    for row in rows("lora_identity.jsonl") + rows("lora_identity_val.jsonl"):
        first = next(m for m in row["conversations"] if m["role"] == "assistant")["content"]
        assert "MiniMind" in first and "minimind-notes" in first


def test_dpo_pairs():
    for row in rows("dpo.jsonl") + rows("dpo_val.jsonl"):
        chosen, rejected = row["chosen"], row["rejected"]
        check_messages(chosen)
        check_messages(rejected)
        assert chosen[0] == rejected[0] and chosen[-1]["content"] != rejected[-1]["content"]


SUM = re.compile(r"(\d+) ?(\+|-|×|plus|minus|times|加|减|乘) ?(\d+)")
OPS = {"+": int.__add__, "plus": int.__add__, "加": int.__add__, "-": int.__sub__, "minus": int.__sub__,
       "减": int.__sub__, "×": int.__mul__, "times": int.__mul__, "乘": int.__mul__}


def test_rl_answers_are_correct():
    for row in rows("rl_arithmetic.jsonl") + rows("rl_arithmetic_val.jsonl"):
        assert set(row) == {"prompt", "answer"}
        value = int(row["answer"])
        assert 0 <= value <= 100
        numbers = [int(n) for n in re.findall(r"\d+", row["prompt"])]
        assert len(numbers) == 2
        found = SUM.search(row["prompt"])
        if found:  # a bare sum: recompute it
            a, op, b = found.groups()
            assert OPS[op](int(a), int(b)) == value, row
        else:  # a story problem: its answer is one of a+b, a-b, a*b
            a, b = numbers
            assert value in (a + b, a - b, a * b), row


def test_sft_arithmetic_is_correct():
    equation = re.compile(r"(\d+) (\+|-|×) (\d+) = (\d+)")
    checked = 0
    for row in rows("sft.jsonl"):
        for m in row["conversations"]:
            if m["role"] == "assistant":
                for a, op, b, c in equation.findall(m["content"]):
                    assert OPS[op](int(a), int(b)) == int(c), m["content"]
                    checked += 1
    assert checked > 100


def test_eval_mc():
    exam = rows("eval_mc.jsonl")
    letters = [r["answer"] for r in exam]
    assert {letters.count(x) for x in "ABCD"} == {len(exam) // 4}
    assert {r["subject"] for r in exam} == {"world_facts", "arithmetic", "language"}
    for r in exam:
        assert set(r) == {"question", "A", "B", "C", "D", "answer", "subject"}
        assert len({r[x] for x in "ABCD"}) == 4
        if r["subject"] == "arithmetic":
            a, op, b = SUM.search(r["question"]).groups()
            assert str(OPS[op](int(a), int(b))) == r[r["answer"]]
    sft_text = "\n".join(m["content"] for row in rows("sft.jsonl") + rows("sft_val.jsonl")
                         for m in row["conversations"])
    assert not [r["question"] for r in exam if r["question"] in sft_text]
    assert len({r["question"] for r in exam}) == len(exam)
