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
    assert urls == [f"https://huggingface.co/jingyaogong/minimind-3-pytorch/resolve/main/{name}"
                    for name in ("full_sft_768.pth", "full_sft_768_moe.pth")]  # the dense and the MoE weights
    urls = [r.url for r in resolve_all("minimind-3-tokenizer", "modelscope")]
    assert urls[0] == "https://www.modelscope.cn/models/gongjy/minimind-3/resolve/master/tokenizer.json"


# -- chat templates: tools and thinking ----------------------------------------------------------------

TOOLS = [{"type": "function", "function": {"name": "calc", "description": "Evaluate arithmetic",
                                           "parameters": {"type": "object", "properties": {"expr": {"type": "string"}},
                                                          "required": ["expr"]}}}]
CALL = {"type": "function", "function": {"name": "calc", "arguments": {"expr": "2+2"}}}
CONVERSATIONS = [
    ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], {}),
    ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "why?"},
      {"role": "assistant", "content": "Because.", "reasoning_content": "\nthink first\n"}], {}),
    ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
      {"role": "assistant", "content": "", "tool_calls": [CALL, {"name": "calc", "arguments": '{"expr": "1"}'}]},
      {"role": "tool", "content": "4"}, {"role": "tool", "content": "1"},
      {"role": "assistant", "content": "<think>\nadd\n</think>\n\nIt is 4."}], {"tools": TOOLS}),
    ([{"role": "user", "content": "x"}], {"add_generation_prompt": True, "open_thinking": True}),
    ([{"role": "user", "content": "x"}], {"add_generation_prompt": True}),
]


@pytest.mark.parametrize("which", ["m3", "a"])
def test_rendering_equals_transformers(toks, which):
    from transformers import AutoTokenizer

    tok = toks[which]
    hf = AutoTokenizer.from_pretrained(str(tok.path))
    for messages, options in CONVERSATIONS if which == "m3" else CONVERSATIONS[:1] + CONVERSATIONS[-1:]:
        options = dict(options)
        tools, prompt = options.pop("tools", None), options.pop("add_generation_prompt", False)
        ours = tok.apply_chat_template(messages, prompt, tools=tools, **options)
        assert ours == hf.apply_chat_template(messages, tools=tools, add_generation_prompt=prompt, tokenize=False,
                                              **options)
        if "<think>" not in json.dumps(messages):  # no marker in any message: the same ids as encoding the text
            assert tok.apply_chat_template(messages, prompt, tokenize=True, tools=tools, **options) == tok.encode(ours)


def test_sft_mask_learns_the_assistants_thinking_answer_and_tool_calls_only(toks):
    from minimind_notes.data.datasets import IGNORE, masked_ids

    tok = toks["m3"]
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "2+2? <think>"},
                {"role": "assistant", "content": "", "reasoning_content": "use calc", "tool_calls": [CALL]},
                {"role": "tool", "content": "4 <|im_end|>"}, {"role": "assistant", "content": "It is 4."}]
    ids, labels = masked_ids(tok, messages, 10_000)
    learned = [i for i, label in zip(ids, labels, strict=True) if label != IGNORE]
    calling = '<think>\nuse calc\n</think>\n\n<tool_call>\n{"name": "calc", "arguments": {"expr": "2+2"}}\n</tool_call>'
    assert tok.decode(learned) == f"{calling}<|im_end|><think>\n\n</think>\n\nIt is 4.<|im_end|>"
    for i, label in zip(ids, labels, strict=True):  # token by token: a target is its own id, or nothing
        assert label in (IGNORE, i)
    text = tok.apply_chat_template(messages)
    assert tok.decode(ids) == text  # every character, in order
    # the template's markers are special ids; the same strings inside what the user and the tool said are text
    assert ids.count(25) == 2 and ids.count(tok.eos_token_id) == 5 and ids.count(21) == 1
    context = tok.decode([i for i, label in zip(ids, labels, strict=True) if label == IGNORE])
    assert "2+2? <think>" in context and "<tool_response>\n4 <|im_end|>\n</tool_response>" in context
    assert "# Tools" not in text  # no tools given: no tool prompt


def test_tools_tool_calls_and_reasoning_need_a_minimind3_tokenizer(toks, tmp_path):
    from minimind_notes.data.chat_cache import SFTDataset

    tok = toks["a"]
    with pytest.raises(MiniMindError, match="has no place for tools") as e:
        tok.apply_chat_template(CONVERSATIONS[0][0], tools=TOOLS)
    assert "--specials minimind-3" in e.value.hint
    with pytest.raises(MiniMindError, match="message 2 has reasoning_content"):
        tok.apply_chat_template(CONVERSATIONS[1][0], tokenize=True)
    rows = tmp_path / "sft.jsonl"
    rows.write_text(json.dumps({"conversations": CONVERSATIONS[2][0][:3]}) + "\n")
    with pytest.raises(MiniMindError, match="message 2 has tool_calls"):
        SFTDataset(rows, tok)
    with pytest.raises(MiniMindError, match="special token <think>"):
        toks["m3"].apply_chat_template(CONVERSATIONS[0][0], tools=[{"name": "f", "description": "<think>"}])


def test_row_level_tools_are_read_and_masked_token_by_token(toks, tmp_path):
    """MiniMind's sft_t2t rows: "tools" beside the conversation, a tool call with null content, a tool result."""
    from minimind_notes.data.chat_cache import SFTDataset
    from minimind_notes.data.datasets import IGNORE, masked_ids

    tok = toks["m3"]
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "2+2?"},
                {"role": "assistant", "content": None, "reasoning_content": "calc", "tool_calls": [CALL]},
                {"role": "tool", "content": "4"}, {"role": "assistant", "content": "4."}]
    rows = tmp_path / "sft_t2t.jsonl"
    rows.write_text(json.dumps({"conversations": messages, "tools": TOOLS}) + "\n"
                    + json.dumps({"conversations": messages[:3], "tools": json.dumps(TOOLS)}) + "\n")
    data = SFTDataset(rows, tok, max_seq_len=10_000)
    ids, labels = data.example(0).ids, data.example(0).labels
    assert (ids, labels) == masked_ids(tok, messages, 10_000, tools=TOOLS)
    assert data.example(1).ids == masked_ids(tok, messages[:3], 10_000, tools=TOOLS)[0]  # tools as JSON text
    text = tok.apply_chat_template(messages, tools=TOOLS)
    assert tok.decode(ids) == text and text.startswith("<|im_start|>system\nS\n\n# Tools") and '"calc"' in text
    # token by token: each id is learned (its label is itself) exactly where the assistant speaks
    calling = '<think>\ncalc\n</think>\n\n<tool_call>\n{"name": "calc", "arguments": {"expr": "2+2"}}\n</tool_call>'
    spoken = [f"{calling}<|im_end|>", "<think>\n\n</think>\n\n4.<|im_end|>"]
    learned, runs, run = [], [], []
    for i, label in zip(ids, labels, strict=True):
        assert label in (IGNORE, i)
        if label == i:
            run.append(i)
        elif run:
            runs, run = [*runs, run], []
    runs += [run] if run else []
    assert [tok.decode(r) for r in runs] == spoken
    context = tok.decode([i for i, label in zip(ids, labels, strict=True) if label == IGNORE])
    assert "# Tools" in context and '"description": "Evaluate arithmetic"' in context  # definitions: context
    assert "<tool_response>\n4\n</tool_response>" in context and "<|im_start|>user\n2+2?" in context
    learned = [i for r in runs for i in r]
    assert learned.count(21) == 1 and learned.count(tok.eos_token_id) == 2  # <tool_call> and both <|im_end|>


def test_row_level_tools_need_a_minimind3_tokenizer_and_a_valid_list(toks, tmp_path):
    from minimind_notes.data.chat_cache import DPODataset, SFTDataset

    rows = tmp_path / "sft.jsonl"
    rows.write_text(json.dumps({"conversations": CONVERSATIONS[0][0]}) + "\n"
                    + json.dumps({"conversations": CONVERSATIONS[0][0], "tools": TOOLS}) + "\n")
    with pytest.raises(MiniMindError, match=r"sft.jsonl:2: tools: .*has no place for tools") as e:
        SFTDataset(rows, toks["a"])
    assert "minimind-3" in e.value.hint
    pairs = tmp_path / "dpo.jsonl"
    pairs.write_text(json.dumps({"chosen": CONVERSATIONS[0][0], "rejected": CONVERSATIONS[0][0], "tools": TOOLS}))
    with pytest.raises(MiniMindError, match=r"dpo.jsonl:1: chosen: tools: "):
        DPODataset(pairs, toks["a"])
    assert len(DPODataset(pairs, toks["m3"], max_seq_len=10_000)) == 1
    for tools, fact in [({"name": "f"}, '"tools" holds dict, not a list'), ("[", '"tools" is text that is not JSON'),
                        ([{"description": "x"}], '"tools": tool 0 has no "name"')]:
        rows.write_text(json.dumps({"conversations": CONVERSATIONS[0][0], "tools": tools}) + "\n")
        with pytest.raises(MiniMindError, match=f"sft.jsonl:1: {fact}"):
            SFTDataset(rows, toks["m3"])


def test_distillation_refuses_a_teacher_of_another_tokenizer_naming_both(toks, tmp_path):
    from minimind_notes.train.config import TrainConfig
    from minimind_notes.train.loop import Trainer

    save_checkpoint(model(), tmp_path / "full_sft_64.safetensors", toks["a"].identity())
    data = tmp_path / "sft.jsonl"
    data.write_text(json.dumps({"conversations": CONVERSATIONS[0][0]}) + "\n")
    with pytest.raises(MiniMindError, match="the teacher .*full_sft_64.safetensors was trained with tokenizer a") as e:
        Trainer(TrainConfig(stage="distill", tokenizer=str(toks["b"].path), data_path=str(data), val_path=None,
                            save_dir=str(tmp_path), device="cpu", max_steps=1), echo=lambda *a: None)
    assert toks["a"].vocab_hash in e.value.message and toks["b"].describe() in e.value.message
    assert "same tokenizer" in e.value.message
