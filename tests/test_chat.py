"""Stage names find their own weights."""

import pytest

from minimind_notes.chat import resolve_weights
from minimind_notes.errors import MiniMindError


def test_a_stage_name_matches_its_own_weights_only(tmp_path):
    for name in ("full_sft_192.safetensors", "full_sft_b_192.safetensors", "full_sft_512_moe.pth", "pretrain_192.pth"):
        (tmp_path / name).write_bytes(b"")
    assert resolve_weights("full_sft_b", tmp_path).name == "full_sft_b_192.safetensors"
    assert resolve_weights("pretrain", tmp_path).name == "pretrain_192.pth"
    with pytest.raises(MiniMindError, match=r"(?s)several weights match 'full_sft'.*_192.*_512_moe.pth\n"):  # not _b
        resolve_weights("full_sft", tmp_path)
