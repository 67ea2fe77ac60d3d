"""Tokenizers belong to their weights: minimind-3's special tokens, the identity checkpoints record,
refusing another tokenizer, official weights with their official tokenizer, the catalogue."""

import json
import os
import random
import subprocess
import sys

import pytest
import torch

from minimind_notes.chat import OFFICIAL_TOKENIZER_ENTRY, load_for_inference, tokenizer_for_weights
from minimind_notes.data.download import find_entry, resolve_all
from minimind_notes.data.tokenizer import MINIMIND3_SPECIAL_TOKENS, MiniMindTokenizer, train_tokenizer
from minimind_notes.errors import MiniMindError
from minimind_notes.model import MiniMindForCausalLM, preset, save_checkpoint

VOCAB = 360


def texts(seed: int) -> list[str]:
    """Made-up words, other ones for each seed: enough merges to fill VOCAB, and other merges per seed."""
    rng = random.Random(seed)
    words = ["".join(rng.choices("abcdefghijklmnop", k=rng.randint(2, 7))) for _ in range(300)]
    return [" ".join(rng.choice(words) for _ in range(30)) for _ in range(300)]


@pytest.fixture(scope="module")
def toks(tmp_path_factory):
    """Two MiniMind2-style tokenizers of the same size but other ids, and a minimind-3 one."""
    root = tmp_path_factory.mktemp("toks")
    return {"a": train_tokenizer(texts(0), root / "a", VOCAB),
            "b": train_tokenizer(texts(1), root / "b", VOCAB),
            "m3": train_tokenizer(texts(0), root / "m3", VOCAB, specials="minimind-3")}


def model(generation: str = "MiniMind2") -> MiniMindForCausalLM:
    torch.manual_seed(0)
    base = preset("tiny") if generation == "MiniMind2" else preset("minimind-3")
    return MiniMindForCausalLM(base.replace(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=1,
                                            num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                                            intermediate_size=128))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "minimind_notes", *args], capture_output=True, text=True, env=env)


def test_minimind3_specials_take_ids_0_to_35_and_stay_text_inside_content(toks):
    tok = toks["m3"]
    assert len(MINIMIND3_SPECIAL_TOKENS) == 36
    for i, token in enumerate(MINIMIND3_SPECIAL_TOKENS):
        assert tok.tok.token_to_id(token) == i
    assert (tok.tok.token_to_id("<tool_call>"), tok.tok.token_to_id("</think>")) == (21, 26)
    assert tok.tok.token_to_id("<|buffer9|>") == 35
    assert tok.generation == "minimind-3" and toks["a"].generation == "MiniMind2"
    assert tok.encode("<think>")[0] == 25  # a marker in the template's text is one id ...
    plain = tok.encode_plain("<think>")  # ... and plain text in a message's content
    assert 25 not in plain and tok.decode(plain) == "<think>"
    config = json.loads((tok.path / "tokenizer_config.json").read_text())
    assert config["additional_special_tokens"][0] == "<|object_ref_start|>"


def test_cli_trains_minimind3_specials_and_refuses_a_vocabulary_too_small_for_them(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(texts(0)[:50]))
    small = run_cli("tokenizer", "train", "--data", str(corpus), "--specials", "minimind-3", "--vocab-size", "280",
                    "--out", str(tmp_path / "small"))
    assert small.returncode == 2 and "Traceback" not in small.stderr and "at least 292" in small.stderr
    done = run_cli("tokenizer", "train", "--data", str(corpus), "--specials", "minimind-3", "--vocab-size", "300",
                   "--out", str(tmp_path / "m3"))
    assert done.returncode == 0, done.stderr
    assert MiniMindTokenizer.from_dir(tmp_path / "m3").tok.token_to_id("<think>") == 25


def test_identity_is_the_vocabulary(toks, tmp_path):
    a, b = toks["a"], toks["b"]
    assert a.vocab_hash != b.vocab_hash and a.vocab_size == b.vocab_size
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "tokenizer.json").write_text((a.path / "tokenizer.json").read_text())
    assert MiniMindTokenizer.from_dir(tmp_path / "copy").vocab_hash == a.vocab_hash
    assert a.identity() == {"tokenizer_name": "a", "tokenizer_vocab": a.vocab_hash}


def test_chat_and_eval_refuse_another_tokenizer_naming_both(toks, tmp_path):
    path = save_checkpoint(model(), tmp_path / "full_sft_64.safetensors", toks["a"].identity())
    _, tok, _ = load_for_inference(str(path), str(toks["a"].path))
    assert tok.vocab_hash == toks["a"].vocab_hash
    with pytest.raises(MiniMindError) as e:
        load_for_inference(str(path), str(toks["b"].path))
    assert toks["a"].vocab_hash in str(e.value) and toks["b"].vocab_hash in str(e.value)
    assert "--tokenizer" in e.value.hint
    result = run_cli("eval", "ppl", "--weights", str(path), "--tokenizer", str(toks["b"].path))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "was trained with tokenizer a" in result.stderr


def test_lora_adapters_and_export_check_the_tokenizer_too(toks, tmp_path):
    from safetensors.torch import save_file

    base = save_checkpoint(model(), tmp_path / "full_sft_64.safetensors", toks["b"].identity())
    lora = tmp_path / "lora_64.safetensors"
    save_file({"model.layers.0.self_attn.q_proj.lora_A": torch.zeros(2, 64)}, str(lora), metadata=toks["a"].identity())
    with pytest.raises(MiniMindError, match="lora_64.safetensors was trained with tokenizer a"):
        load_for_inference(str(base), str(toks["b"].path), lora=str(lora))
    result = run_cli("export", str(base), str(tmp_path / "hf"), "--tokenizer", str(toks["a"].path))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "was trained with tokenizer b" in result.stderr
    assert not (tmp_path / "hf").exists()


def official_pth(folder, generation="MiniMind2"):
    folder.mkdir(exist_ok=True)
    path = folder / "full_sft_64.pth"
    torch.save(model(generation).state_dict(), path)
    return path


def test_official_weights_without_their_tokenizer_say_how_to_get_it(tmp_path):
    path = official_pth(tmp_path / "w")
    result = run_cli("chat", "--weights", str(path), "--prompt", "hi", "--max-new-tokens", "2")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "official MiniMind2 weights" in result.stderr
    assert f"minimind data download minimind2-weights --dir {path.parent}" in result.stderr
    m3 = official_pth(tmp_path / "m3", "minimind-3")
    with pytest.raises(MiniMindError, match="minimind-3-tokenizer"):
        load_for_inference(str(m3))


def test_official_weights_never_take_this_projects_tokenizer(toks, tmp_path):
    path = official_pth(tmp_path / "w")
    with pytest.raises(MiniMindError, match="need MiniMind2's own tokenizer, not minimind-notes"):
        tokenizer_for_weights(path, str(MiniMindTokenizer.from_dir().path), "MiniMind2")
    with pytest.raises(MiniMindError, match="minimind-3's own tokenizer"):  # a MiniMind2 tokenizer for minimind-3
        tokenizer_for_weights(official_pth(tmp_path / "m3", "minimind-3"), str(toks["a"].path), "minimind-3")


def test_official_weights_use_the_tokenizer_beside_them_and_say_so(toks, tmp_path):
    path = official_pth(tmp_path / "w", "minimind-3")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (path.parent / name).write_text((toks["m3"].path / name).read_text())
    said = []
    _, tok, _ = load_for_inference(str(path), say=said.append)
    assert tok.vocab_hash == toks["m3"].vocab_hash
    assert said == [f"Using w (minimind-3, vocabulary {tok.vocab_hash}) from {path.parent} "
                    "for the official minimind-3 weights"]


def test_training_records_its_tokenizer_and_from_weight_refuses_another(toks, tmp_path):
    from safetensors import safe_open

    from minimind_notes.train.config import TrainConfig
    from minimind_notes.train.loop import train

    data = tmp_path / "pretrain.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts(0)[:40]))
    common = dict(data_path=str(data), val_path=None, hidden_size=64, num_hidden_layers=1, max_seq_len=32,
                  batch_size=4, max_steps=1, save_dir=str(tmp_path / "out"), eval_every=0, log_every=1,
                  device="cpu", precision="fp32")
    train(TrainConfig(stage="pretrain", tokenizer=str(toks["a"].path), from_weight="none", **common),
          echo=lambda *a: None)
    with safe_open(str(tmp_path / "out" / "pretrain_64.safetensors"), "pt") as f:
        assert f.metadata()["tokenizer_vocab"] == toks["a"].vocab_hash
    with pytest.raises(MiniMindError, match="was trained with tokenizer a") as e:
        train(TrainConfig(stage="pretrain", tokenizer=str(toks["b"].path), from_weight="pretrain", run_name="two",
                          **common), echo=lambda *a: None)
    assert toks["b"].vocab_hash in str(e.value)


def test_catalogue_names_the_tokenizer_of_every_weights_entry():
    for family, name in OFFICIAL_TOKENIZER_ENTRY.items():
        assert "tokenizer.json" in find_entry(name).files, family
    for entry in map(find_entry, ("minimind2-weights", "minimind2-transformers", "minimind-3-weights",
                                  "minimind-3-transformers")):
        assert "tokenizer.json" in find_entry(entry.tokenizer).files
    assert find_entry("minimind-3-weights").tokenizer == "minimind-3-tokenizer"
    urls = [r.url for r in resolve_all("minimind-3-weights", "huggingface")]
    assert urls == ["https://huggingface.co/jingyaogong/minimind-3-pytorch/resolve/main/full_sft_768.pth"]
    urls = [r.url for r in resolve_all("minimind-3-tokenizer", "modelscope")]
    assert urls[0] == "https://www.modelscope.cn/models/gongjy/minimind-3/resolve/master/tokenizer.json"
