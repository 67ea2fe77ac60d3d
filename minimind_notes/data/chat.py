"""Chat templates: the tokenizer's own Jinja template, rendered as transformers renders it.

MiniMind2's is ChatML:

    <|im_start|>system
    You are a helpful assistant.<|im_end|>
    <|im_start|>user
    Hi!<|im_end|>
    <|im_start|>assistant

minimind-3's adds tool definitions to the system turn, the assistant's reasoning in <think>...</think>
before its answer, its tool calls in <tool_call>...</tool_call>, the results as <tool_response> in a
user turn, and `open_thinking` (the reply prompt opens a <think> block, or closes an empty one).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from minimind_notes.errors import MiniMindError

BOS, EOS, PAD = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
DEFAULT_SYSTEM = "You are a helpful assistant."
ROLES = ("system", "user", "assistant", "tool")
MINIMIND3_FIELDS = ("tool_calls", "reasoning_content")  # message fields only minimind-3's template shows

# `default_system` (this project's addition; transformers leaves it undefined) turns the default off with none.
CHAT_TEMPLATE = (
    "{% set system = default_system if default_system is defined else 'You are a helpful assistant.' %}"
    "{% if (not messages or messages[0]['role'] != 'system') and system is not none %}"
    "{{ '<|im_start|>system\\n' + system + '<|im_end|>\\n' }}{% endif %}"
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# The format minimind-3 was trained on (MiniMind's model/tokenizer_config.json), written for reading: every
# piece of text is a quoted string, and the `-` of each tag drops the line breaks between them.
MINIMIND3_CHAT_TEMPLATE = r"""
{%- set first_system = messages and messages[0].role == 'system' %}
{%- if tools %}
    {{- '<|im_start|>system\n' + (messages[0].content + '\n\n' if first_system else '') }}
    {{- '# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' }}
    {{- 'You are provided with function signatures within <tools></tools> XML tags:\n<tools>' }}
    {%- for tool in tools %}
        {{- '\n' + tool | tojson }}
    {%- endfor %}
    {{- '\n</tools>\n\nFor each function call, return a json object with function name and arguments within ' }}
    {{- '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": ' }}
    {{- '<args-json-object>}\n</tool_call><|im_end|>\n' }}
{%- elif first_system %}
    {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
    {%- set content = message.content if message.content is string else '' %}
    {%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>\n' }}
    {%- elif message.role == 'assistant' %}
        {%- set reasoning = message.reasoning_content if message.reasoning_content is string else '' %}
        {%- if message.reasoning_content is not string and '</think>' in content %}
            {%- set reasoning = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
            {%- set content = content.split('</think>')[-1].lstrip('\n') %}
        {%- endif %}
        {{- '<|im_start|>assistant\n<think>\n' + reasoning.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
        {%- for call in message.tool_calls or [] %}
            {%- set call = call.function if call.function else call %}
            {{- '\n' if content or not loop.first else '' }}
            {{- '<tool_call>\n{"name": "' + call.name + '", "arguments": ' }}
            {{- call.arguments if call.arguments is string else call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == 'tool' %}
        {{- '<|im_start|>user' if loop.first or messages[loop.index0 - 1].role != 'tool' else '' }}
        {{- '\n<tool_response>\n' + content + '\n</tool_response>' }}
        {{- '<|im_end|>\n' if loop.last or messages[loop.index0 + 1].role != 'tool' else '' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {{- '<think>\n' if open_thinking is defined and open_thinking is true else '<think>\n\n</think>\n\n' }}
{%- endif %}
"""


@functools.cache
def compiled(template: str) -> Any:  # a jinja2.Template
    """`template` in the environment transformers renders chat templates in (a sandbox: a template comes with a
    downloaded tokenizer, so it may not reach Python's internals), with its `tojson` (no HTML escaping)."""
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None,
               sort_keys: bool = False) -> str:
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    try:
        return env.from_string(template)
    except jinja2.TemplateSyntaxError as e:
        raise MiniMindError(f"the tokenizer's chat template is not valid Jinja: {e} (line {e.lineno})",
                            hint="fix chat_template in tokenizer_config.json, or train the tokenizer again") from e


def render(template: str, messages: Sequence[dict[str, Any]], add_generation_prompt: bool = False,
           **variables: Any) -> str:
    """The text of a conversation in `template` (what transformers' apply_chat_template returns)."""
    import jinja2

    try:
        return compiled(template).render(messages=list(messages), add_generation_prompt=add_generation_prompt,
                                         **variables)
    except jinja2.TemplateError as e:
        raise MiniMindError(f"the chat template cannot render this conversation: {e}") from e


def split_inline_reasoning(message: dict[str, Any]) -> dict[str, Any]:
    """An assistant message that holds its reasoning as <think>...</think> in the content, with it moved to
    reasoning_content, as minimind-3's template reads it (what it renders stays the same)."""
    content = message.get("content")
    if message.get("role") != "assistant" or "reasoning_content" in message or not isinstance(content, str) \
            or "</think>" not in content:
        return message
    reasoning, _, answer = content.partition("</think>")
    return {**message, "reasoning_content": reasoning.rstrip("\n").split("<think>")[-1].lstrip("\n"),
            "content": answer.lstrip("\n")}


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
    chat_turns(messages, default_system)  # checks the roles and contents
    return render(CHAT_TEMPLATE, messages, add_generation_prompt, default_system=default_system)
