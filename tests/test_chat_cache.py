"""SFT and DPO caches: the memory-mapped ids and masks are masked_ids' own, a changed file rebuilds its cache,
truncation is counted, the held-out split is fixed."""

import json
import os
import random

import numpy as np
import pytest

from minimind_notes.content import data_dir
from minimind_notes.data import chat_cache
from minimind_notes.data.chat_cache import DPODataset, SFTDataset, held_out_rows, prepare_chats
from minimind_notes.data.datasets import IGNORE, masked_ids, read_rows
from minimind_notes.data.jsonl import DataError, read_jsonl
from minimind_notes.data.tokenizer import MiniMindTokenizer, train_tokenizer


@pytest.fixture(scope="module")
def tok():
    return MiniMindTokenizer.from_dir()  # the shipped one: its template is ChatML without default_system


@pytest.fixture(scope="module")
def m3(tmp_path_factory):
    rng = random.Random(0)
    words = "the cat sat on a mat 小猫 坐着 user assistant think tool 2 + 4".split()
    texts = [" ".join(rng.choice(words) for _ in range(30)) for _ in range(500)]
    return train_tokenizer(texts, tmp_path_factory.mktemp("m3"), 300, specials="minimind-3")


def write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def odd_rows() -> list[dict]:
    """Rows the fast path must get exactly right, or leave to masked_ids."""
    u, a = "user", "assistant"
    return [{"conversations": c} for c in (
        [{"role": "system", "content": "\n\nBe brief.\n"}, {"role": u, "content": "<|im_end|> hi <|im_start|>x"},
         {"role": a, "content": " lead space"}, {"role": u, "content": ""}, {"role": a, "content": ""}],
        [{"role": u, "content": "tool next"}, {"role": "tool", "content": "42\n"}, {"role": a, "content": "\n42"}],
        [{"role": u, "content": "q"}, {"role": a, "content": "<think>\n\n</think>\n\nan answer"}],  # masked_ids
        [{"role": u, "content": "q", "reasoning_content": ""}, {"role": a, "content": "a\t中文 <|endoftext|>"}],
    )]


def mixed_rows(n: int = 300) -> list[dict]:
    sft = read_jsonl(data_dir() / "sft.jsonl")
    identity = read_jsonl(data_dir() / "lora_identity.jsonl")
    rng = random.Random(0)
    return [rng.choice((sft, identity))[rng.randrange(100)] for _ in range(n - 40)] + odd_rows() * 10


def direct(tok, path, key, max_len):
    """masked_ids of every conversation that keeps a target (DPO: both sides)."""
    out = []
    for _, value in read_rows(path, key)[0]:
        sides = [masked_ids(tok, conv, max_len) for conv in (value if key == "pair" else [value])]
        if all(any(label != IGNORE for label in labels) for _, labels in sides):
            out += sides
    return out


def cached(cache):
    return [(e.ids, e.labels) for e in map(cache.example, range(len(cache)))]


@pytest.mark.parametrize("workers", [False, True], ids=["in-process", "worker-processes"])
def test_cache_equals_masked_ids_on_mixed_rows(tok, tmp_path, monkeypatch, workers):
    if workers:  # every file goes to worker processes
        monkeypatch.setattr(chat_cache, "PARALLEL_BYTES", 0)
    path = write(tmp_path / "sft.jsonl", mixed_rows())
    cache = prepare_chats(path, tok, 64, out_dir=tmp_path, batch_rows=37)  # many batches, some rows cut
    assert cache.meta["fast_path"] and cache.meta["workers"] == (os.cpu_count() if workers else 1)
    assert cached(cache) == direct(tok, path, "conversations", 64) and len(cache) == 300
    assert cache.meta["truncated"] > 0 and cache.ids.dtype == np.uint16


def test_dpo_pairs_equal_masked_ids(tok, tmp_path):
    rows = read_jsonl(data_dir() / "dpo.jsonl")[:150]
    rows.append({"chosen": odd_rows()[0]["conversations"], "rejected": odd_rows()[1]["conversations"]})
    path = write(tmp_path / "dpo.jsonl", rows)
    data = DPODataset(path, tok, 48)
    assert cached(data.cache) == direct(tok, path, "pair", 48) and len(data) == len(data.cache) // 2
    chosen, rejected = data.pair(len(data) - 1)
    ids, labels = data.batch([len(data) - 1, 0])  # (4, T): the two chosen rows, then the two rejected
    assert ids[0, :len(chosen.ids)].tolist() == chosen.ids and ids[2, :len(rejected.ids)].tolist() == rejected.ids
    assert labels[2, :len(rejected.labels)].tolist() == rejected.labels


def test_minimind3_rows_go_through_masked_ids(m3, tmp_path):
    call = {"name": "calc", "arguments": {"expr": "2+4"}}
    rows = [{"conversations": [{"role": "user", "content": "2+4?"},
                               {"role": "assistant", "content": "", "tool_calls": [call]},
                               {"role": "tool", "content": "6"},
                               {"role": "assistant", "content": "6", "reasoning_content": "add"}]}] * 3
    rows += odd_rows()
    path = write(tmp_path / "m3.jsonl", rows)
    cache = prepare_chats(path, m3, 256, out_dir=tmp_path)
    assert not cache.meta["fast_path"] and cached(cache) == direct(m3, path, "conversations", 256)


def test_a_changed_file_rebuilds_its_cache(tok, tmp_path):
    cat = {"conversations": [{"role": "user", "content": "a cat?"}, {"role": "assistant", "content": "a cat"}]}
    path = write(tmp_path / "sft.jsonl", [cat, *mixed_rows(59)])
    cache = prepare_chats(path, tok, 128, out_dir=tmp_path)
    first = cached(cache)  # read now: the rebuild below replaces the files
    assert prepare_chats(path, tok, 128, out_dir=tmp_path).meta["seconds"] == cache.meta["seconds"]  # reused
    stat = path.stat()
    path.write_text(path.read_text(encoding="utf-8").replace("a cat", "a dog"), encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size and mtime: the content digest tells
    again = prepare_chats(path, tok, 128, out_dir=tmp_path)
    assert cached(again) == direct(tok, path, "conversations", 128) != first
    write(path, mixed_rows(61))
    assert len(prepare_chats(path, tok, 128, out_dir=tmp_path)) == 61
    other = prepare_chats(path, tok, 32, out_dir=tmp_path)  # another max_seq_len: another cache beside it
    assert other.stem != again.stem and cached(other) == direct(tok, path, "conversations", 32)


def test_a_damaged_cache_is_rebuilt(tok, tmp_path, capsys):
    path = write(tmp_path / "sft.jsonl", mixed_rows(50))
    cache = prepare_chats(path, tok, 128, out_dir=tmp_path)
    with open(cache.path("ids"), "r+b") as f:
        f.truncate(10)
    again = prepare_chats(path, tok, 128, out_dir=tmp_path)
    assert "cut short or replaced" in capsys.readouterr().err
    assert cached(again) == direct(tok, path, "conversations", 128)


def test_truncation_and_dropped_rows_are_counted(tok, tmp_path):
    long_reply = {"conversations": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x " * 200}]}
    late_reply = {"conversations": [{"role": "user", "content": "y " * 200}, {"role": "assistant", "content": "z"}]}
    short = {"conversations": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    path = write(tmp_path / "sft.jsonl", [long_reply, late_reply, short, long_reply])
    data = SFTDataset(path, tok, 40)
    meta = data.cache.meta
    assert (meta["rows"], meta["truncated"], meta["no_target"]) == (3, 2, 1) and data.no_target == 1
    assert len(data.example(0).ids) == 40 and data.example(0).ids == masked_ids(tok, long_reply["conversations"], 40)[0]
    notes = data.cache.notes()
    assert any("cut 2 of 3 row(s)" in n for n in notes) and any("dropped 1 row(s)" in n for n in notes)
    with pytest.raises(DataError, match="no row keeps an assistant token within max_seq_len 8"):
        SFTDataset(write(tmp_path / "late.jsonl", [late_reply]), tok, 8)


def test_bad_rows_masked_ids_refuses_are_named_or_skipped(tok, tmp_path):
    thinking = {"conversations": [{"role": "user", "content": "q"},
                                  {"role": "assistant", "content": "<think>hmm</think>yes"}]}
    good = {"conversations": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    path = write(tmp_path / "sft.jsonl", [good, thinking, good])
    with pytest.raises(DataError, match=r"sft.jsonl:2: message 1 has reasoning_content") as e:
        prepare_chats(path, tok, 64, skip_bad=False, out_dir=tmp_path)
    assert "--skip-bad" in e.value.hint
    cache = prepare_chats(path, tok, 64, skip_bad=True, out_dir=tmp_path)
    assert len(cache) == 2 and len(cache.meta["bad_lines"]) == 1 and "sft.jsonl:2" in cache.meta["bad_lines"][0]


def test_held_out_split_is_small_fixed_and_spread():
    assert len(held_out_rows(199)) == 0 and len(held_out_rows(200)) == 1 and len(held_out_rows(10**7)) == 2000
    assert len(held_out_rows(10**7, limit=320)) == 320  # no more than an evaluation reads
    rows = held_out_rows(100_000)
    assert len(rows) == 500 and np.array_equal(rows, held_out_rows(100_000))
    assert len(set(rows.tolist())) == 500 and rows.min() < 200 and rows.max() > 99_800  # through the whole file


def test_only_data_path_holds_rows_out_for_evaluation(tok, tmp_path):
    from minimind_notes.train.config import TrainConfig
    from minimind_notes.train.objectives import SFTObjective

    path = write(tmp_path / "sft.jsonl", mixed_rows(400))
    cfg = TrainConfig(stage="sft", data_path=str(path), max_seq_len=64, tokenizer=str(tok.path))
    objective = SFTObjective(cfg, tok, device=None)
    train, held = objective.data, objective.val_data
    assert (len(train), len(held)) == (398, 2) and objective.examples_per_epoch == 398
    assert set(held.rows.tolist()).isdisjoint(train.rows.tolist())
    assert held.example(0).ids == train.cache.example(int(held.rows[0])).ids
    assert any("held out 2 of 400 rows of sft.jsonl" in note for note in objective.data_notes())
    again = SFTObjective(cfg, tok, device=None)
    assert np.array_equal(again.val_data.rows, held.rows)
    none = SFTObjective(TrainConfig(stage="sft", data_path=str(path), val_path="", max_seq_len=64), tok, device=None)
    assert none.val_data is None and len(none.data) == 400  # --val_path '': no held-out set, every row trains


def test_encode_plain_batch_is_encode_plain(tok):
    texts = ["a<|im_end|>b <|im_start|>", "\n\n x<|endoftext|>", "中文  tabs\t\t", "", " ?!"]
    assert tok.encode_plain_batch(texts) == tok.encode_plain_batch(texts, 1) == [tok.encode_plain(t) for t in texts]


def test_pretraining_given_only_data_path_holds_its_last_windows_out(tok, tmp_path):
    from minimind_notes.train.config import TrainConfig
    from minimind_notes.train.objectives import Objective

    texts = [{"text": f"Mia has {i} apples and Tom has {i + 1} pears."} for i in range(300)]
    path = write(tmp_path / "pre.jsonl", texts)
    objective = Objective(TrainConfig(stage="pretrain", data_path=str(path), max_seq_len=16,
                                      tokenizer=str(tok.path)), tok, device=None)
    total = objective.train_meta["tokens"]
    held = len(held_out_rows((total - 1) // 16, objective.eval_rows))
    assert held >= 1 and objective.val.n_windows == held
    assert objective.train.n_windows == (total - 1) // 16 - held
    assert np.array_equal(objective.val.all_windows()[-1].numpy(), np.asarray(objective.val.tokens[-17:]))
    assert any(f"held out the last {held} windows" in note for note in objective.data_notes())


def test_data_prepare_for_sft(tok, tmp_path):
    from typer.testing import CliRunner

    from minimind_notes.cli.app import app

    path = write(tmp_path / "sft.jsonl", mixed_rows(60))
    result = CliRunner().invoke(app, ["data", "prepare", str(path), "--stage", "sft", "--max-seq-len", "64"])
    out = " ".join(result.output.split())
    assert result.exit_code == 0 and "60 rows ->" in out and "to their first max_seq_len 64 tokens" in out, out
    bad = CliRunner().invoke(app, ["data", "prepare", str(path), "--stage", "grpo"])
    assert bad.exit_code == 2 and "has no cache to prepare" in bad.output


@pytest.mark.slow
def test_bench_data_measures_sft_preparation_and_the_warm_start(tmp_path):
    from typer.testing import CliRunner

    from minimind_notes.cli.app import app

    path = write(tmp_path / "sft.jsonl", mixed_rows(40))
    result = CliRunner().invoke(app, ["bench", "data", "--stage", "sft", "--data", str(path), "--max-seq-len", "64",
                                      "--json"])
    assert result.exit_code == 0, result.output
    measured = json.loads(result.output)
    assert measured["rows"] == 40 and measured["tokens"] > 0 and measured["peak_memory_mb"] > 10
    assert measured["build_s"] > 0 and measured["first_step_s"] > 0 and measured["workers"] == 1
