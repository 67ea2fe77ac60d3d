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


def chat_turns(messages: Sequence[dict[str, str]],
               default_system: str | None = DEFAULT_SYSTEM) -> list[tuple[str, str]]:
    """(role, content) of each message, checked, after a default system message when none is given."""
    turns = []
    if default_system is not None and (not messages or messages[0].get("role") != "system"):
        turns.append(("system", default_system))
    for i, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role not in ROLES or not isinstance(content, str):
            raise MiniMindError(f"message {i} has role {role!r} and content of type "
                                f"{type(content).__name__}", hint=f"roles are {', '.join(ROLES)}")
        turns.append((role, content))
    return turns


def apply_chat_template(
    messages: Sequence[dict[str, str]], add_generation_prompt: bool = False,
    default_system: str | None = DEFAULT_SYSTEM,
) -> str:
    """ChatML text of a conversation; a default system message is added when none is given."""
    parts = [f"{BOS}{role}\n{content}{EOS}\n" for role, content in chat_turns(messages, default_system)]
    if add_generation_prompt:
        parts.append(f"{BOS}assistant\n")
    return "".join(parts)
