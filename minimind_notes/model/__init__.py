"""The one MiniMind model (MiniMind2 and minimind-3) that experiments, trainers and chat all import.

    from minimind_notes.model import MiniMindConfig, MiniMindForCausalLM, RMSNorm
"""

from minimind_notes.model.attention import Attention, explicit_attention, repeat_kv
from minimind_notes.model.block import MiniMindBlock
from minimind_notes.model.checkpoint import (
    CheckpointMismatch,
    load_model,
    load_weights,
    read_state_dict,
    save_checkpoint,
)
from minimind_notes.model.config import PRESETS, MiniMindConfig, preset
from minimind_notes.model.feedforward import FeedForward
from minimind_notes.model.generation import SamplingConfig, generate, stream_generate
from minimind_notes.model.lora import LoRALinear, apply_lora, lora_state_dict, merge_lora
from minimind_notes.model.model import CausalLMOutput, MiniMindForCausalLM, MiniMindModel
from minimind_notes.model.moe import MOEFeedForward, MoEGate
from minimind_notes.model.norm import RMSNorm
from minimind_notes.model.rope import apply_rotary_pos_emb, precompute_freqs_cis, rotate_half

__all__ = [
    "PRESETS", "Attention", "CausalLMOutput", "CheckpointMismatch", "FeedForward", "LoRALinear",
    "MOEFeedForward", "MiniMindBlock", "MiniMindConfig", "MiniMindForCausalLM", "MiniMindModel",
    "MoEGate", "RMSNorm", "SamplingConfig", "apply_lora", "apply_rotary_pos_emb",
    "explicit_attention", "generate", "load_model", "load_weights", "lora_state_dict",
    "merge_lora", "precompute_freqs_cis", "read_state_dict", "repeat_kv", "rotate_half",
    "save_checkpoint", "stream_generate", "preset",
]
