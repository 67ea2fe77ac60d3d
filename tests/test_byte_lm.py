"""The experiments' small-model trainer honours the experiment's precision."""

import torch

from minimind_notes.lab.byte_lm import ByteBatches, corpus_text, train_lm
from minimind_notes.model import MiniMindConfig, MiniMindForCausalLM

SMALL = dict(vocab_size=256, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
             max_position_embeddings=64)


def curve(precision: str, seen: list[torch.dtype]) -> list[float]:
    torch.manual_seed(0)
    model = MiniMindForCausalLM(MiniMindConfig(**SMALL))
    model.lm_head.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    return train_lm(model, ByteBatches(corpus_text("train"), seed=0), 40, batch_size=8, seq_len=32,
                    precision=precision).losses


def test_bf16_runs_the_forward_in_bf16_and_learns_as_fp32_does():
    fp32_dtypes, bf16_dtypes = [], []
    fp32, bf16 = curve("fp32", fp32_dtypes), curve("bf16", bf16_dtypes)
    assert set(fp32_dtypes) == {torch.float32} and set(bf16_dtypes) == {torch.bfloat16}
    assert fp32 != bf16  # a different precision really ran
    assert fp32[-1] < fp32[0] - 1.0 and abs(bf16[-1] - fp32[-1]) < 0.1, (fp32[-1], bf16[-1])
