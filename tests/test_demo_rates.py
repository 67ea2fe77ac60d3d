"""tools/demo_rates.py's rule for an acceptable demonstration reply, and the sampling chat uses by model size."""

import pytest

from tools.demo_rates import acceptable


@pytest.mark.parametrize(("reply", "lang", "must_say", "closed", "ok"), [
    ("I am MiniMind, a small language model.", "en", "MiniMind", True, True),
    ("我是 MiniMind,一个用 minimind-notes 从零训练的小型语言模型。", "zh", "MiniMind", True, True),
    ("My�么 is�上有很多动物. I am a small你是一个友好的", "en", "MiniMind", True, False),  # the reply
    ("I am MiniMind, 一个小模型", "en", "MiniMind", True, False),  # Chinese in an English reply
    ("I am a small model.", "en", "MiniMind", True, False),  # not the identity
    ("I am MiniMind, a small language model", "en", "MiniMind", False, False),  # ran to the token limit
    ("我是 a small language model trained from scratch", "zh", None, True, False),  # not Chinese
    ("我叫 MiniMind,是irre minimind-notes 从零训练的小型语言模型。", "zh", "MiniMind", True, False),  # a stray fragment
    ("", "en", None, True, False),
    ("She walked to the river and saw a duck.", "en", None, None, True),  # text continuation: no turn to close
])
def test_acceptable(reply, lang, must_say, closed, ok):
    assert acceptable(reply, lang, must_say, closed).ok is ok


def test_tiny_models_sample_closer_to_greedy():
    from minimind_notes.model import SamplingConfig
    from minimind_notes.model.generation import default_sampling

    tiny, small, minimind = default_sampling(2_000_000), default_sampling(25_829_888), SamplingConfig()
    assert (small.temperature, small.top_p) == (minimind.temperature, minimind.top_p)  # MiniMind's own sizes
    assert tiny.temperature < small.temperature and tiny.top_p < small.top_p
