"""The alignment module's lab helpers against the project's reference code paths, and the GRPO
objective's sampling generator (it must live on the model's device)."""

import copy
import random

import pytest
import torch

from minimind_notes.data.jsonl import read_jsonl, write_jsonl
from minimind_notes.data.tokenizer import MiniMindTokenizer
from minimind_notes.evaluate import arithmetic_accuracy, reward, sample_replies
from minimind_notes.lab import alignment as al
from minimind_notes.model import MiniMindConfig, MiniMindForCausalLM
from minimind_notes.train.config import TrainConfig
from minimind_notes.train.loop import Trainer


@pytest.fixture(scope="module")
def tok():
    return MiniMindTokenizer.from_dir(None)


@pytest.fixture(scope="module")
def model(tok):
    torch.manual_seed(0)
    config = MiniMindConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                            vocab_size=tok.vocab_size, max_position_embeddings=256)
    return MiniMindForCausalLM(config).eval()


def test_batched_left_padded_replies_are_the_unpadded_ones(model, tok):
    """Prompts of several lengths in one left-padded batch: each reply is the greedy reply of that
    prompt alone, and the accuracy is the share of replies the reward counts as right."""
    rows = al.prompt_rows(al.addition_sums(3))
    acc = al.accuracy(model, tok, rows)
    assert len(acc.replies) == len(rows)
    assert acc.share == pytest.approx(sum(reward(r.text, a) for r, (_, a) in zip(acc.replies, rows, strict=True))
                                      / len(rows))
    from minimind_notes.model.generation import SamplingConfig, generate

    cfg = SamplingConfig(max_new_tokens=12, temperature=0, eos_token_id=tok.eos_token_id)
    for reply in acc.replies[:6]:
        ids = torch.tensor([reply.prompt_ids])
        new = generate(model, ids, cfg=cfg)[0, ids.shape[1]:].tolist()
        assert new[:len(reply.tokens)] == reply.tokens


def test_sampled_accuracy_draws_k_replies_per_prompt_reproducibly(model, tok):
    rows = al.prompt_rows(al.addition_sums(3))
    kw = dict(max_new_tokens=12, temperature=1.0, samples=4, seed=7)
    a = arithmetic_accuracy(model, tok, rows, **kw)
    assert a.share == arithmetic_accuracy(model, tok, rows, **kw).share  # seeded: the same draws
    assert len(a.replies) == 4 * len(rows) and a.share * len(a.replies) == pytest.approx(sum(a.rewards))


def test_policy_kl_is_exact(model, tok):
    replies = sample_replies(model, tok, ["What is 2 + 3?", "Calculate 1 + 1."], 1.0,
                             generator=torch.Generator().manual_seed(0))
    assert al.policy_kl(model, model, replies) == pytest.approx([0.0, 0.0], abs=1e-5)
    other = copy.deepcopy(model)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.05 * torch.randn_like(p))
    got = al.policy_kl(model, other, replies)
    for r, kl in zip(replies, got, strict=True):  # one reply at a time, with torch's kl_div
        ids = torch.tensor([r.prompt_ids + r.tokens])
        start = len(r.prompt_ids) - 1
        with torch.no_grad():
            p = model(ids).logits[0, start:-1].log_softmax(-1)
            q = other(ids).logits[0, start:-1].log_softmax(-1)
        expected = torch.nn.functional.kl_div(q, p, log_target=True, reduction="sum")
        assert kl == pytest.approx(float(expected), rel=1e-4) and kl > 0


def test_sloppy_rows_are_wrong_only_in_the_result_style():
    sums = al.addition_sums(10)
    for sloppy in (0.0, 1.0):
        rows = al.sft_rows(sums, 300, random.Random(0), sloppy)
        for row in rows:
            question, answer = (m["content"] for m in row["conversations"])
            a, b = (int(x) for x in question.replace("?", " ").replace(".", " ").split() if x.isdigit())
            right = reward(answer, str(a + b)) == 1.0
            assert right == (sloppy == 0.0 or al.reply_style(answer) == "restate")


def test_pair_kinds():
    def pair(chosen, rejected):
        user = {"role": "user", "content": "q"}
        return {"chosen": [user, {"role": "assistant", "content": chosen}],
                "rejected": [user, {"role": "assistant", "content": rejected}]}

    assert al.pair_kind(pair("Frank is 51 years old.", "Frank is 52 years old.")) == "wrong"
    assert al.pair_kind(pair("13 + 1 = 14.", "13 + 1 = 15.")) == "wrong"
    assert al.pair_kind(pair("A crow caws.", "Stop asking me things.")) == "rude"
    assert al.pair_kind(pair("A crow caws.", "The opposite of \"dry\" is \"wet\".")) == "off-topic"
    from minimind_notes.content import data_dir

    kinds = {al.pair_kind(row) for row in read_jsonl(data_dir() / "dpo_val.jsonl")}
    assert kinds == set(al.PAIR_KINDS)


def grpo_trainer(tmp_path, device: str) -> Trainer:
    rows = [{"prompt": f"What is {a} + {b}?", "answer": str(a + b)} for a in range(3) for b in range(3)]
    write_jsonl(tmp_path / "rl.jsonl", rows)
    cfg = TrainConfig(stage="grpo", data_path=str(tmp_path / "rl.jsonl"), val_path=None, from_weight="none",
                      hidden_size=32, num_hidden_layers=1, max_seq_len=64, batch_size=2, num_generations=4,
                      grpo_max_new_tokens=4, max_steps=2, save_dir=str(tmp_path / "out"), eval_every=0,
                      save_every=0, device=device, learning_rate=1e-3)
    return Trainer(cfg, echo=lambda text: None)


def test_grpo_generator_lives_on_the_model_device(tmp_path):
    trainer = grpo_trainer(tmp_path, "cpu")
    assert trainer.objective.generator.device == trainer.device
    state = trainer.objective.state_dict()
    trainer.train_step()
    trainer.objective.load_state_dict(state)  # rewinds the sampler and the generator


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_grpo_samples_on_cuda_and_resumes(tmp_path):
    """torch.multinomial on CUDA rejects a CPU generator; a resumed state arrives on the device."""
    trainer = grpo_trainer(tmp_path, "cuda")
    assert trainer.objective.generator.device.type == "cuda"
    trainer.train_step()
    state = trainer.objective.state_dict()
    moved = {k: v.to("cuda") if torch.is_tensor(v) else v for k, v in state.items()}  # map_location=device
    trainer.objective.load_state_dict(moved)
    trainer.train_step()
