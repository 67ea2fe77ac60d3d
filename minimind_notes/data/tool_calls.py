"""What a minimind-3 reply holds, and the two demo tools `minimind chat --tools` runs.

A reply in minimind-3's format (data/chat.py) is

    reasoning</think>\\n\\nthe answer
    <tool_call>\\n{"name": "calculator", "arguments": {"expression": "2+3"}}\\n</tool_call>

(the reply prompt opened the <think> block). `parse_reply` splits it into reasoning, content and tool calls
in OpenAI's shape, ready to go back into the template as the assistant's message; a tool's result goes back
as a `tool` message. Pure Python, no torch: a server reuses it.
"""

from __future__ import annotations

import ast
import datetime
import json
import operator
import os
import re
from collections.abc import Callable
from typing import Any

from minimind_notes.data.jsonl import DataError, require_file

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)


def parse_reply(text: str, open_thinking: bool = False) -> tuple[str, str, list[dict[str, Any]]]:
    """(reasoning, content, tool_calls) of a generated reply. The reasoning is what comes before </think>
    (all of the text when the prompt opened thinking and the reply never closed it); each well-formed
    <tool_call>{"name", "arguments"}</tool_call> becomes {"type": "function", "function": {"name",
    "arguments": JSON text}} and leaves the content; a malformed one stays in the content, as text."""
    reasoning, content = "", text
    if THINK_CLOSE in text:
        reasoning, _, content = text.partition(THINK_CLOSE)
    elif open_thinking:
        reasoning, content = text, ""
    calls = []

    def take(match: re.Match) -> str:
        call = parse_call(match.group(1))
        if call is None:
            return match.group(0)
        calls.append(call)
        return ""

    content = TOOL_CALL.sub(take, content)
    return reasoning.split(THINK_OPEN)[-1].strip("\n"), content.strip(), calls


def parse_call(body: str) -> dict[str, Any] | None:
    """One tool call's JSON in OpenAI's shape, or None if it is not {"name": str, "arguments": object}."""
    try:
        call = json.loads(body)
    except ValueError:
        return None
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        return None
    arguments = call.get("arguments", {})
    if isinstance(arguments, str):  # arguments given as JSON text, as OpenAI's API sends them
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return None
    if not isinstance(arguments, dict):
        return None
    return {"type": "function", "function": {"name": call["name"],
                                             "arguments": json.dumps(arguments, ensure_ascii=False)}}


# -- tool definitions -----------------------------------------------------------------------------------

DEMO_TOOLS = [
    {"type": "function", "function": {
        "name": "calculator", "description": "Evaluate an arithmetic expression (+ - * / // % ** and brackets).",
        "parameters": {"type": "object", "properties": {"expression": {"type": "string"}},
                       "required": ["expression"]}}},
    {"type": "function", "function": {
        "name": "current_datetime", "description": "The current date and time (ISO 8601).",
        "parameters": {"type": "object", "properties": {"timezone": {
            "type": "string", "description": "An IANA time zone such as Asia/Shanghai (default: UTC)."}}}}},
]


TOOLS_SHAPE = ('a JSON list of OpenAI function schemas: [{"type": "function", "function": {"name": ..., '
               '"description": ..., "parameters": {...}}}]')


def load_tools(source: str | os.PathLike) -> list[dict[str, Any]]:
    """The tool definitions of a JSON file (see `check_tools`); "demo": the two demo tools."""
    if str(source) == "demo":
        return DEMO_TOOLS
    path = require_file(source, "tools file")
    try:
        tools = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise DataError(f"tools file {path} is not JSON: {e}", hint=f"write {TOOLS_SHAPE}") from None
    return check_tools(tools, f"tools file {path}")


def check_tools(tools: Any, where: str) -> list[dict[str, Any]]:
    """`tools` if it is a list of OpenAI function schemas ({"type": "function", "function": {"name",
    "description", "parameters"}}, or the bare function), else one DataError that begins with `where`."""
    if not isinstance(tools, list) or not tools:
        raise DataError(f"{where} holds {type(tools).__name__ if tools else 'nothing'}, not a list of tools",
                        hint=f"write {TOOLS_SHAPE}")
    for i, tool in enumerate(tools):
        function = tool.get("function", tool) if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
            raise DataError(f"{where}: tool {i} has no \"name\" string", hint=f"write {TOOLS_SHAPE}")
        if not isinstance(function.get("parameters", {}), dict):
            raise DataError(f"{where}: tool {i} ({function['name']}) has \"parameters\" that are not a JSON object",
                            hint="give them as a JSON schema object")
    return tools


def tool_names(tools: list[dict[str, Any]]) -> list[str]:
    return [tool.get("function", tool)["name"] for tool in tools]


# -- the demo tools -------------------------------------------------------------------------------------

OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
    ast.USub: operator.neg, ast.UAdd: operator.pos,
}
MAX_EXPRESSION = 200  # characters
MAX_MAGNITUDE = 1e100  # larger intermediate results are refused: 9**9**9 would take minutes and gigabytes


def calculate(expression: str) -> int | float:
    """The value of an arithmetic expression, walked node by node (never eval): numbers, + - * / // % **,
    brackets. Anything else (names, calls, attributes) raises ValueError."""
    if len(expression) > MAX_EXPRESSION:
        raise ValueError(f"the expression is longer than {MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise ValueError(f"{expression!r} is not an arithmetic expression") from None

    def value(node: ast.AST) -> int | float:
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            result = node.value
        elif isinstance(node, ast.UnaryOp) and type(node.op) in OPERATORS:
            result = OPERATORS[type(node.op)](value(node.operand))
        elif isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) * len(str(int(abs(left)))) > 100:
                raise ValueError("the power is too large")
            result = OPERATORS[type(node.op)](left, right)
        else:
            raise ValueError(f"only numbers and + - * / // % ** are allowed, not {ast.unparse(node)!r}")
        if isinstance(result, complex) or abs(result) > MAX_MAGNITUDE:
            raise ValueError("the result is out of range")
        return result

    return value(tree.body)


def current_datetime(timezone: str = "UTC") -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r}") from None
    return datetime.datetime.now(zone).isoformat(timespec="seconds")


DEMO_FUNCTIONS: dict[str, Callable[..., Any]] = {"calculator": calculate, "current_datetime": current_datetime}


def run_demo_tool(name: str, arguments: dict[str, Any] | str) -> str:
    """The result of a demo tool as the text of a `tool` message; a failure is a result too ("error: ...",
    for the model to read). A name that is no demo tool raises KeyError."""
    function = DEMO_FUNCTIONS[name]
    try:
        args = json.loads(arguments) if isinstance(arguments, str) else arguments
        if not isinstance(args, dict):
            raise TypeError("the arguments are not a JSON object")
        result = function(**args)
        return result if isinstance(result, str) else json.dumps(result)
    except (ValueError, TypeError, ArithmeticError) as e:
        return f"error: {e}"


def is_demo_tool(name: str) -> bool:
    return name in DEMO_FUNCTIONS

