"""The ChatML chat template, in plain Python (no template engine needed).

    <|im_start|>system
    You are a helpful assistant.<|im_end|>
    <|im_start|>user
    Hi!<|im_end|>
    <|im_start|>assistant
"""

from __future__ import annotations

from collections.abc import Sequence

from minimind_notes.errors import MiniMindError

BOS, EOS, PAD = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
DEFAULT_SYSTEM = "You are a helpful assistant."
ROLES = ("system", "user", "assistant", "tool")


def apply_chat_template(
    messages: Sequence[dict[str, str]], add_generation_prompt: bool = False,
    default_system: str | None = DEFAULT_SYSTEM,
) -> str:
    """ChatML text of a conversation; a default system message is added when none is given."""
    parts = []
    if default_system is not None and (not messages or messages[0].get("role") != "system"):
        parts.append(f"{BOS}system\n{default_system}{EOS}\n")
    for i, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role not in ROLES or not isinstance(content, str):
            raise MiniMindError(f"message {i} has role {role!r} and content of type "
                                f"{type(content).__name__}", hint=f"roles are {', '.join(ROLES)}")
        parts.append(f"{BOS}{role}\n{content}{EOS}\n")
    if add_generation_prompt:
        parts.append(f"{BOS}assistant\n")
    return "".join(parts)
