"""Reward model, PPO and GRPO: the pieces against hand computations, and the trainers on MiniMind's RL
file formats (rlaif.jsonl, agent_rl_math.jsonl) with a tiny model."""

import json
import math
import random

import pytest
import torch

from minimind_notes.data.datasets import read_rows
from minimind_notes.data.jsonl import DataError
from minimind_notes.data.tokenizer import train_tokenizer
from minimind_notes.train.config import TrainConfig
from minimind_notes.train.loop import Trainer, train
from minimind_notes.train.rl import (
    bradley_terry_loss,
    clipped_value_loss,
    gae,
    grpo_token_loss,
    k3_kl,
    ppo_policy_loss,
)

QUIET = lambda *a: None  # noqa: E731


# -- the pieces ---------------------------------------------------------------------------------------------

def test_gae_equals_a_hand_computation():
    gamma, lam = 0.9, 0.8
    r, v = [0.0, 0.1, 0.0, -0.2, 1.0], [0.5, 0.4, 0.6, 0.3, 0.7]
    # by hand, from the last step back: V after the last step is 0 (the reply ended)
    deltas = [r[t] + gamma * (v[t + 1] if t < 4 else 0.0) - v[t] for t in range(5)]
    a4 = deltas[4]
    a3 = deltas[3] + gamma * lam * a4
    a2 = deltas[2] + gamma * lam * a3
    a1 = deltas[1] + gamma * lam * a2
    a0 = deltas[0] + gamma * lam * a1
    # two rows: the second is padded by one position that the mask drops
    rewards = torch.tensor([r, [*r[1:], 0.0]])
    values = torch.tensor([v, [*v[1:], 9.0]])
    mask = torch.tensor([[1.0] * 5, [1.0] * 4 + [0.0]])
    adv, ret = gae(rewards, values, mask, gamma, lam)
    assert adv[0].tolist() == pytest.approx([a0, a1, a2, a3, a4], abs=1e-6)  # float32 against float64
    assert ret[0].tolist() == pytest.approx([a + b for a, b in zip([a0, a1, a2, a3, a4], v, strict=True)], abs=1e-6)
    assert adv[1].tolist() == pytest.approx([a1, a2, a3, a4, 0.0], abs=1e-6)  # the padding's value 9 never leaks in


def test_one_update_epoch_clipped_loss_is_the_policy_gradient_loss():
    torch.manual_seed(0)
    theta = torch.randn(3, 6, requires_grad=True)
    logp = theta.log_softmax(-1)  # (3, 6): stands in for per-token log-probabilities
    adv, mask = torch.randn(3, 6), (torch.rand(3, 6) > 0.3).float()
    ppo, clip_frac = ppo_policy_loss(logp, logp.detach(), adv, mask, clip=0.2)  # old policy == current
    (g_ppo,) = torch.autograd.grad(ppo, theta, retain_graph=True)
    pg = -(adv * logp * mask).sum() / mask.sum()
    (g_pg,) = torch.autograd.grad(pg, theta)
    assert torch.allclose(g_ppo, g_pg, atol=1e-6) and clip_frac == 0
    for loss_type in ("grpo", "cispo"):
        logp = theta.log_softmax(-1)
        per_token, clipped = grpo_token_loss(logp, logp.detach(), adv[:, :1], torch.zeros_like(logp), 0.0,
                                             loss_type, 0.2, 5.0 if loss_type == "cispo" else 0.28)
        (g,) = torch.autograd.grad((per_token * mask).sum() / mask.sum(), theta, retain_graph=True)
        (g_ref,) = torch.autograd.grad(-(adv[:, :1] * logp * mask).sum() / mask.sum(), theta)
        assert torch.allclose(g, g_ref, atol=1e-6) and clipped.sum() == 0


def test_value_clipping_acts():
    old = torch.zeros(1, 4)
    returns = torch.full((1, 4), 2.0)
    values = torch.full((1, 4), 1.0, requires_grad=True)  # moved 1.0 from its rollout value: past the 0.2 range
    mask = torch.ones(1, 4)
    loss = clipped_value_loss(values, old, returns, mask, cliprange=0.2)
    assert float(loss.detach()) == pytest.approx(0.5 * (0.2 - 2.0) ** 2)  # clipped error 1.8^2 beats plain 1^2
    (grad,) = torch.autograd.grad(loss, values)
    assert grad.abs().sum() == 0  # a clipped value gets no gradient to move further
    inside = torch.full((1, 4), 0.1, requires_grad=True)
    assert float(clipped_value_loss(inside, old, returns, mask, 0.2).detach()) == pytest.approx(0.5 * 1.9 ** 2)


def test_k3_kl_is_never_negative():
    torch.manual_seed(0)
    logp, ref = torch.randn(1000) * 3, torch.randn(1000) * 3
    kl = k3_kl(logp, ref)
    assert (kl >= 0).all() and float(k3_kl(logp, logp).abs().max()) == 0


def test_reward_loss_is_ln2_when_both_replies_score_equal():
    scores = torch.randn(7)
    assert float(bradley_terry_loss(scores, scores)) == pytest.approx(math.log(2))


# -- the trainers on MiniMind's files -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def rl_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("rl")
    rng = random.Random(0)

    def write(name, rows):
        (root / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))

    convs = []
    for _ in range(120):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        convs.append([{"role": "user", "content": f"What is {a} + {b}?"},
                      {"role": "assistant", "content": f"{a} + {b} = {a + b}."}])
    write("sft.jsonl", [{"conversations": c} for c in convs])
    write("dpo.jsonl", [{"chosen": c, "rejected": [c[0], {"role": "assistant", "content": "I will not say."}]}
                        for c in convs])
    sums = [(a, b) for a in range(1, 4) for b in range(1, 5)]  # 12 rows each: MiniMind's formats, 5-20 rows
    write("rlaif.jsonl", [{"conversations": [{"role": "user", "content": f"What is {a} + {b}?"},
                                             {"role": "assistant", "content": ""}]} for a, b in sums])
    write("agent_rl_math.jsonl", [{"conversations": [{"role": "system", "content": "", "tools": "[]"},
                                                     {"role": "user", "content": f"What is {a} + {b}?"},
                                                     {"role": "assistant", "content": ""}], "gt": [str(a + b)]}
                                  for a, b in sums])
    texts = [c[1]["content"] + " What is = + ? I will not say. user assistant system" for c in convs]
    train_tokenizer(texts * 5, root / "tok", 300)
    base = dict(tokenizer=str(root / "tok"), hidden_size=64, num_hidden_layers=2, max_seq_len=64, batch_size=8,
                save_dir=str(root / "out"), eval_every=0, save_every=0, log_every=1, eval_batches=2,
                learning_rate=3e-3, warmup_steps=0, device="cpu", precision="fp32")
    return root, base


@pytest.fixture(scope="module")
def rl_corpus(rl_files):
    root, base = rl_files
    train(TrainConfig(stage="sft", data_path=str(root / "sft.jsonl"), from_weight="none", max_steps=20, **base),
          echo=QUIET)
    return root, base


def rows_of(run_dir):
    return [json.loads(line) for line in open(f"{run_dir}/metrics.jsonl")]


@pytest.fixture(scope="module")
def reward_model(rl_corpus):
    root, base = rl_corpus
    cfg = TrainConfig(stage="reward", data_path=str(root / "dpo.jsonl"), val_path=str(root / "dpo.jsonl"),
                      from_weight="full_sft", max_steps=6, **base)
    trainer = Trainer(cfg, echo=QUIET)
    loss, _, _ = trainer.objective.loss(trainer.model, trainer.objective.next_batch())
    return float(loss.detach()), trainer.run()


@pytest.mark.slow  # with the module's fixtures: an SFT model and a reward model, ~10 s
def test_reward_model_starts_at_ln2_trains_and_scores_ppo(rl_corpus, reward_model):
    root, base = rl_corpus
    first_loss, summary = reward_model
    assert first_loss == pytest.approx(math.log(2), abs=1e-6)  # the zero head ties every pair
    assert summary.first_eval["val_pair_acc"] == 0.5 and summary.final_eval["val_pair_acc"] > 0.5
    # rlaif.jsonl has no answers: the learned reward model scores the replies
    ppo = train(TrainConfig(stage="ppo", data_path=str(root / "rlaif.jsonl"), val_path=None,
                            reward_model_path=summary.weights, from_weight="full_sft", max_steps=3,
                            **{**base, "batch_size": 4}), echo=QUIET)
    rows = rows_of(ppo.run_dir)
    assert ppo.steps == 3 and all(r["reward"] != 0 for r in rows)  # real-valued scores, not the 0/1 rule
    assert {"value_loss", "explained_var", "clip_frac", "kl", "entropy", "response_len", "reward_std"} <= set(rows[0])


@pytest.mark.slow
def test_more_than_one_update_per_rollout_moves_the_ratio_and_clips(rl_corpus, reward_model):
    root, base = rl_corpus  # the reward model's scores differ between replies: every rollout has a signal
    for stage, extra in (("ppo", dict(mini_batch_size=2, early_stop_kl=0)),
                         ("grpo", dict(num_generations=4, batch_size=2, loss_type="grpo")),
                         ("grpo", dict(num_generations=4, batch_size=2, loss_type="cispo", epsilon_high=1.05))):
        summary = train(TrainConfig(stage=stage, data_path=str(root / "agent_rl_math.jsonl"), val_path=None,
                                    from_weight="full_sft", max_steps=8, ppo_update_iters=4,
                                    reward_model_path=reward_model[1].weights,
                                    run_name=f"{stage}_{extra.get('loss_type')}",
                                    **{**base, "learning_rate": 3e-2, **extra}), echo=QUIET)
        rows = rows_of(summary.run_dir)
        assert rows[0]["approx_kl"] == pytest.approx(0, abs=1e-6)  # the first update: pi == pi_old
        assert max(r["approx_kl"] for r in rows[1:]) > 1e-4, stage  # later ones: the ratio has left 1
        assert max(r["clip_frac"] for r in rows) > 0, (stage, extra)


def test_minimind_rl_rows_are_read_and_bad_ones_named(rl_files, tmp_path):
    root, _ = rl_files
    rows, _ = read_rows(root / "agent_rl_math.jsonl", "rl")
    prompt = rows[0][1]
    assert prompt.answer == "2" and prompt.had_tools and [m["role"] for m in prompt.messages] == ["user"]
    rows, _ = read_rows(root / "rlaif.jsonl", "rl")
    assert rows[0][1].answer is None and rows[0][1].messages[-1]["role"] == "user"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"conversations": [{"role": "user", "content": "hi"}]}\n{"question": "2+2="}\n'
                   '{"conversations": [{"role": "assistant", "content": ""}]}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: .*rlaif.jsonl.*agent_rl_math.jsonl") as e:
        read_rows(bad, "rl", skip_bad=False)
    assert "--skip-bad" in e.value.hint
    rows, skipped = read_rows(bad, "rl", skip_bad=True)
    assert [n for n, _ in rows] == [1] and len(skipped) == 2 and "bad.jsonl:3: " in skipped[1]


def test_rule_reward_needs_answers(rl_files):
    root, base = rl_files
    with pytest.raises(DataError, match=r"rlaif.jsonl:1: the row has no answer") as e:
        Trainer(TrainConfig(stage="grpo", data_path=str(root / "rlaif.jsonl"), val_path=None, from_weight="none",
                            max_steps=1, **base), echo=QUIET)
    assert "--reward_model_path" in e.value.hint


@pytest.mark.slow
def test_ppo_resumes_with_its_critic(rl_corpus):
    root, base = rl_corpus
    cfg = dict(stage="ppo", data_path=str(root / "agent_rl_math.jsonl"), val_path=None, from_weight="full_sft",
               max_steps=2, run_name="ppo_resume", **{**base, "batch_size": 4, "save_every": 2})
    first = Trainer(TrainConfig(**cfg), echo=QUIET)
    first.run()
    critic = {k: v.clone() for k, v in first.objective.critic.state_dict().items()}
    assert any(not torch.equal(v, first.objective.reference.state_dict().get(k, v)) for k, v in critic.items())
    again = Trainer(TrainConfig(**{**cfg, "max_steps": 3, "resume": True}), echo=QUIET)
    again.resume()
    restored = again.objective.critic.state_dict()
    assert all(torch.equal(v, restored[k]) for k, v in critic.items())


@pytest.mark.slow  # importing transformers takes seconds
def test_a_transformers_sequence_classifier_scores_replies(tmp_path):
    transformers = pytest.importorskip("transformers")
    import shutil

    from minimind_notes.content import data_dir
    from minimind_notes.data.datasets import RLPrompt
    from minimind_notes.data.tokenizer import MiniMindTokenizer
    from minimind_notes.evaluate import Reply
    from minimind_notes.train.rewards import scorer_for

    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=6400, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=2, num_labels=1, pad_token_id=0)
    model = transformers.LlamaForSequenceClassification(config).eval()
    model.save_pretrained(tmp_path)
    for f in (data_dir() / "tokenizer").iterdir():
        shutil.copy(f, tmp_path)
    score = scorer_for(str(tmp_path), MiniMindTokenizer.from_dir(None), torch.device("cpu"))
    prompt = RLPrompt([{"role": "user", "content": "What is 1 + 1?"}], "2")
    scores = score([prompt, prompt], [Reply([], [], "1 + 1 = 2.", True), Reply([], [], "It is 3.", True)])
    hf_tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    text = hf_tok.apply_chat_template([*prompt.messages, {"role": "assistant", "content": "It is 3."}], tokenize=False)
    with torch.no_grad():
        expected = float(model(hf_tok(text, return_tensors="pt").input_ids).logits[0, 0])
    assert scores[1] == pytest.approx(expected, abs=1e-5) and scores[0] != scores[1]
