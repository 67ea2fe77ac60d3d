"""Tokenizer, chat template, JSONL validation, packing and SFT/DPO masks."""

import json
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimind_notes.data.chat import apply_chat_template
from minimind_notes.data.chat_cache import DPODataset, SFTDataset
from minimind_notes.data.datasets import IGNORE, TokenWindows, masked_ids
from minimind_notes.data.jsonl import DataError
from minimind_notes.data.pretokenize import prepare
from minimind_notes.data.tokenizer import MiniMindTokenizer, train_tokenizer


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    rng = random.Random(0)
    words = ("the cat sat on a mat and ran to the river where Mia found 3 red apples . "
             "小猫 在 垫子 上 坐着 米娅 找到 三个 苹果 。 user assistant system").split()
    texts = [" ".join(rng.choice(words) for _ in range(40)) for _ in range(3000)]
    return train_tokenizer(texts, tmp_path_factory.mktemp("tok"), vocab_size=500)


def test_special_tokens_layout(tok):
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2)
    config = json.loads((tok.path / "tokenizer_config.json").read_text())
    assert config["bos_token"] == "<|im_start|>" and config["eos_token"] == "<|im_end|>"
    assert tok.encode("<|im_start|>user") [0] == 1  # special tokens are single ids
    assert MiniMindTokenizer.from_dir(tok.path).encode("the cat") == tok.encode("the cat")


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_round_trip_any_unicode(tok_text):
    tok = _shared_tok()
    assert tok.decode(tok.encode(tok_text)) == tok_text


_CACHE = {}


def _shared_tok():
    if "tok" not in _CACHE:
        import tempfile

        _CACHE["tok"] = train_tokenizer(["hello world 你好 世界 🙂"] * 50, tempfile.mkdtemp(), vocab_size=300)
    return _CACHE["tok"]


def test_pieces_are_readable(tok):
    ids = tok.encode("小猫 sat")
    pieces = tok.pieces(ids)
    assert "".join(pieces) == "小猫 sat"
    rare = tok.encode("龘")  # unseen character: byte tokens, shown as hex, not byte soup
    assert all(p.startswith("<") for p in tok.pieces(rare))


def test_chat_template_strings():
    convo = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    assert apply_chat_template(convo) == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n")
    with_system = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert apply_chat_template(with_system, add_generation_prompt=True) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")


def test_sft_labels_only_on_assistant_replies(tok):
    convo = [{"role": "user", "content": "the cat"}, {"role": "assistant", "content": "sat on a mat"},
             {"role": "user", "content": "Mia"}, {"role": "assistant", "content": "found apples"}]
    ids, labels = masked_ids(tok, convo, 512)
    learned = [i for i, label in zip(ids, labels, strict=True) if label != IGNORE]
    assert tok.decode(learned) == "sat on a mat<|im_end|>found apples<|im_end|>"
    ids, labels = masked_ids(tok, convo, 20)
    assert len(ids) == len(labels) == 20


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                            for r in rows), encoding="utf-8")
    return path


def test_bad_lines_are_named_or_skipped(tok, tmp_path):
    good = {"conversations": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    path = write_jsonl(tmp_path / "sft.jsonl", [good, "{broken", {"conversations": [{"role": "bot",
                                                                                    "content": "x"}]}])
    with pytest.raises(DataError, match=r"sft.jsonl:2: not a JSON object"):
        SFTDataset(path, tok)
    data = SFTDataset(path, tok, skip_bad=True)
    assert len(data) == 1 and len(data.bad_lines) == 2
    assert "sft.jsonl:3" in data.bad_lines[1] and "'bot'" in data.bad_lines[1]
    with pytest.raises(DataError, match="empty dataset"):
        SFTDataset(write_jsonl(tmp_path / "empty.jsonl", []), tok)


def test_dpo_batch_stacks_chosen_then_rejected(tok, tmp_path):
    user = {"role": "user", "content": "the cat"}
    row = {"chosen": [user, {"role": "assistant", "content": "sat"}],
           "rejected": [user, {"role": "assistant", "content": "ran to the river"}]}
    data = DPODataset(write_jsonl(tmp_path / "dpo.jsonl", [row, row]), tok)
    ids, labels = data.batch([0, 1])
    assert ids.shape[0] == 4 and (labels[:2] != IGNORE).sum() < (labels[2:] != IGNORE).sum()


def test_prepare_packs_and_caches(tok, tmp_path):
    path = write_jsonl(tmp_path / "pre.jsonl", [{"text": "the cat sat"}, {"text": "小猫 坐着"}])
    packed = prepare(path, tok, out_dir=tmp_path / "cache")
    expected = [1, *tok.encode("the cat sat"), 2, 1, *tok.encode("小猫 坐着"), 2]
    assert packed.tokens.tolist() == expected and len(packed) == len(expected)
    again = prepare(path, tok, out_dir=tmp_path / "cache")
    assert again.meta["seconds"] == packed.meta["seconds"]  # reused, not rebuilt
    write_jsonl(path, [{"text": "the mat"}])
    assert prepare(path, tok, out_dir=tmp_path / "cache").tokens.tolist() == [1, *tok.encode("the mat"), 2]
    with pytest.raises(DataError, match=r"pre.jsonl:1: no \"text\""):
        prepare(write_jsonl(path, [{"txt": "x"}]), tok, out_dir=tmp_path / "cache")


def test_token_windows_resume_exactly():
    tokens = np.arange(1000, dtype=np.uint16)
    a = TokenWindows(tokens, seq_len=16, seed=3)
    first = [a.next_batch(4) for _ in range(20)]  # crosses an epoch boundary (62 windows)
    b = TokenWindows(tokens, seq_len=16, seed=3)
    for _ in range(7):
        b.next_batch(4)
    c = TokenWindows(tokens, seq_len=16, seed=3)
    c.load_state_dict(b.state_dict())
    assert all((c.next_batch(4) == first[i]).all() for i in range(7, 20))
    assert first[0].shape == (4, 17)


# -- the tiktoken twin that `data prepare` encodes with: the same ids as tokenizers -----------------
@pytest.fixture(scope="module")
def shipped():
    return MiniMindTokenizer.from_dir()


def test_tiktoken_twin_matches_tokenizers_on_the_embedded_corpus(shipped):
    from minimind_notes.content import data_dir
    from minimind_notes.data.jsonl import read_jsonl

    assert shipped.bulk_engine.startswith("tiktoken")
    texts = [r["text"] for r in read_jsonl(data_dir() / "pretrain_val.jsonl")]
    texts += [apply_chat_template(r["conversations"]) for r in read_jsonl(data_dir() / "sft_val.jsonl")]
    assert shipped.encode_batch(texts) == shipped.hf_encode_batch(texts)


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_tiktoken_twin_matches_tokenizers_on_any_unicode(text):
    for t in (MiniMindTokenizer.from_dir(), _shared_tok()):  # the shipped BPE and one trained here
        assert t.tiktoken_twin is not None
        assert t.encode_batch([text, text + " <|im_end|>"]) == t.hf_encode_batch([text, text + " <|im_end|>"])


def test_tiktoken_twin_declines_what_it_cannot_copy(shipped):
    from minimind_notes.data.tiktoken_twin import tiktoken_twin

    spec = json.loads(shipped.tok.to_str())
    assert tiktoken_twin(json.dumps(spec)) is not None
    for change in ({"normalizer": {"type": "NFC"}},
                   {"pre_tokenizer": {**spec["pre_tokenizer"], "add_prefix_space": True}},
                   {"model": {**spec["model"], "merges": spec["model"]["merges"][::-1]}}):
        assert tiktoken_twin(json.dumps({**spec, **change})) is None
