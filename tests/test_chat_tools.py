"""minimind-3 in `minimind chat`: thinking apart from the answer, tool calls parsed, demo tools run and their
results fed back; the pure parts (data/tool_calls.py) that a server reuses."""

import json
import random

import pytest
import torch
from typer.testing import CliRunner

from minimind_notes.chat import Reply, fit_chat
from minimind_notes.cli.app import app
from minimind_notes.data.tokenizer import train_tokenizer
from minimind_notes.data.tool_calls import DEMO_TOOLS, calculate, load_tools, parse_reply, run_demo_tool
from minimind_notes.errors import MiniMindError
from minimind_notes.model import MiniMindForCausalLM, preset, save_checkpoint

runner = CliRunner()


def texts() -> list[str]:
    rng = random.Random(0)
    words = ["".join(rng.choices("abcdefghijklmnop", k=rng.randint(2, 7))) for _ in range(300)]
    return [" ".join(rng.choice(words) for _ in range(30)) for _ in range(300)]


@pytest.fixture(scope="module")
def m3(tmp_path_factory):
    """A minimind-3 tokenizer, a MiniMind2 one, and tiny SFT checkpoints trained (never) with each."""
    root = tmp_path_factory.mktemp("chat")
    toks = {"m3": train_tokenizer(texts(), root / "tok3", 360, specials="minimind-3"),
            "m2": train_tokenizer(texts(), root / "tok2", 360)}
    weights = {}
    for name, tok in toks.items():
        torch.manual_seed(0)
        base = preset("minimind-3" if name == "m3" else "tiny")
        model = MiniMindForCausalLM(base.replace(vocab_size=360, hidden_size=64, num_hidden_layers=1,
                                                 num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                                                 intermediate_size=128, max_position_embeddings=2048))
        (root / name).mkdir()
        weights[name] = save_checkpoint(model, root / name / "full_sft_64.safetensors", tok.identity())
    return toks, weights


# -- parse_reply and the demo tools -------------------------------------------------------------------

def test_parse_reply_splits_reasoning_content_and_tool_calls():
    text = ('compute it\n</think>\n\nLet me add.\n<tool_call>\n{"name": "calculator", "arguments": '
            '{"expression": "2+3"}}\n</tool_call>\n<tool_call>\n{"name": "broken", "arguments": \n</tool_call>')
    reasoning, content, calls = parse_reply(text, open_thinking=True)
    assert reasoning == "compute it"
    assert calls == [{"type": "function", "function": {"name": "calculator",
                                                       "arguments": '{"expression": "2+3"}'}}]
    assert content.startswith("Let me add.") and '"name": "broken"' in content  # a malformed call stays text
    assert parse_reply("just an answer") == ("", "just an answer", [])
    assert parse_reply("still thinking", open_thinking=True) == ("still thinking", "", [])
    assert parse_reply('<think>\nhm\n</think>\n\nok')[:2] == ("hm", "ok")
    args_as_text = parse_reply('<tool_call>{"name": "f", "arguments": "{\\"x\\": 1}"}</tool_call>')[2]
    assert args_as_text[0]["function"]["arguments"] == '{"x": 1}'


@pytest.mark.parametrize("expression, value", [("2+3*4", 14), ("(1 + 2) / 4", 0.75), ("-2 ** 2", -4),
                                               ("7 // 2 % 3", 0), ("2 ** 10", 1024), ("1.5e3 - 1", 1499.0)])
def test_calculator_computes_arithmetic(expression, value):
    assert calculate(expression) == value


@pytest.mark.parametrize("expression, why", [
    ("__import__('os').system('true')", "only numbers"), ("a + 1", "only numbers"), ("9 ** 9 ** 9", "too large"),
    ("(1).real", "only numbers"), ("2 +", "not an arithmetic"), ("'a' * 3", "only numbers"), ("1" * 300, "longer"),
    ("10.0 ** 300", "too large"), ("(-1) ** 0.5", "out of range"),
])
def test_calculator_refuses_anything_else_and_never_evals(expression, why):
    with pytest.raises(ValueError, match=why):
        calculate(expression)


def test_demo_tools_answer_and_their_failures_are_results():
    assert run_demo_tool("calculator", '{"expression": "6*7"}') == "42"
    assert run_demo_tool("calculator", {"expression": "1/0"}) == "error: division by zero"
    assert run_demo_tool("calculator", {"expr": "1"}).startswith("error: ")
    assert run_demo_tool("current_datetime", {})[:2] == "20"
    assert run_demo_tool("current_datetime", {"timezone": "Asia/Shanghai"}).endswith("+08:00")
    assert run_demo_tool("current_datetime", {"timezone": "Mars/Base"}) == "error: unknown time zone 'Mars/Base'"
    with pytest.raises(KeyError):
        run_demo_tool("rm", {})


@pytest.mark.parametrize("content, fact", [
    ("{", "is not JSON"), ("{}", "holds nothing, not a list"), ('{"name": "f"}', "holds dict"),
    ('[{"type": "function", "function": {"description": "no name"}}]', "tool 0 has no \"name\""),
    ('[{"name": "f", "parameters": []}]', "tool 0 (f) has \"parameters\" that are not a JSON object"),
])
def test_a_bad_tools_file_is_one_clear_error(tmp_path, content, fact):
    path = tmp_path / "tools.json"
    path.write_text(content)
    with pytest.raises(MiniMindError, match=fact.replace("(", r"\(").replace(")", r"\)")) as e:
        load_tools(path)
    assert str(path) in e.value.message and "JSON" in e.value.hint
    assert load_tools("demo") == DEMO_TOOLS
    path.write_text(json.dumps(DEMO_TOOLS[:1]))
    assert load_tools(path) == DEMO_TOOLS[:1]


# -- the prompt: the tokenizer's template, tools and thinking included ----------------------------------

def test_fit_chat_renders_tools_and_thinking_as_sft_trained(m3):
    tok = m3[0]["m3"]
    messages = [{"role": "user", "content": "2+3?"}]
    fitted = fit_chat(tok, messages, 2000, tools=DEMO_TOOLS, open_thinking=True)
    assert fitted.ids == tok.apply_chat_template(messages, True, tokenize=True, tools=DEMO_TOOLS, open_thinking=True)
    assert tok.decode(fitted.ids).endswith("<|im_start|>assistant\n<think>\n") and "# Tools" in tok.decode(fitted.ids)
    assert tok.decode(fit_chat(tok, messages, 2000).ids).endswith("<think>\n\n</think>\n\n")


# -- the CLI ------------------------------------------------------------------------------------------

def scripted(monkeypatch, replies: list[str]) -> list[list[int]]:
    """stream_reply answers with `replies` in turn; returns the prompts it was given."""
    prompts = []

    def fake(model, tok, ids, cfg, on_text, generator=None):
        prompts.append(list(ids))
        text = replies[len(prompts) - 1]
        on_text(text)
        return Reply(text, 3, 0.1)

    monkeypatch.setattr("minimind_notes.chat.stream_reply", fake)
    return prompts


def test_chat_runs_a_demo_tool_and_feeds_the_result_back(m3, monkeypatch):
    toks, weights = m3
    prompts = scripted(monkeypatch, ['plan\n</think>\n\n<tool_call>\n{"name": "calculator", "arguments": '
                                     '{"expression": "2+3"}}\n</tool_call>', "add\n</think>\n\nIt is 5."])
    result = runner.invoke(app, ["chat", "--weights", str(weights["m3"]), "--tokenizer", str(toks["m3"].path),
                                 "--prompt", "2+3?", "--think",
                                 "--tools", "demo", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["reasoning_content"], out["content"], out["tool_calls"]) == ("add", "It is 5.", [])
    assert [m["role"] for m in out["messages"]] == ["assistant", "tool", "assistant"]
    assert out["messages"][0]["reasoning_content"] == "plan" and out["messages"][1]["content"] == "5"
    second = toks["m3"].decode(prompts[1])
    assert "<tool_response>\n5\n</tool_response>" in second and second.endswith("assistant\n<think>\n")
    assert '{"name": "calculator", "arguments": {"expression": "2+3"}}' in second


def test_chat_prints_calls_it_cannot_run_and_stops(m3, monkeypatch, tmp_path):
    weights, tok = m3[1]["m3"], ["--tokenizer", str(m3[0]["m3"].path)]
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([{"name": "send_mail", "parameters": {"type": "object"}}]))
    call = '<tool_call>\n{"name": "send_mail", "arguments": {"to": "[bold]x"}}\n</tool_call>'
    prompts = scripted(monkeypatch, [call])
    result = runner.invoke(app, ["chat", "--weights", str(weights), *tok, "--prompt", "mail x", "--tools", str(tools)])
    assert result.exit_code == 0, result.output
    assert len(prompts) == 1 and 'not a demo tool' in result.output and 'send_mail({"to": "[bold]x"})' in result.output
    prompts = scripted(monkeypatch, [call.replace("send_mail", "calculator")] * 2)
    result = runner.invoke(app, ["chat", "--weights", str(weights), *tok, "--prompt", "x", "--tools", "demo",
                                 "--tool-rounds", "1"])
    assert len(prompts) == 2 and "--tool-rounds reached" in result.output


def test_thinking_is_shown_apart_from_the_answer(m3, monkeypatch):
    scripted(monkeypatch, ["deep thought\n</think>\n\nforty-two"])
    result = runner.invoke(app, ["chat", "--weights", str(m3[1]["m3"]), "--tokenizer", str(m3[0]["m3"].path),
                                 "--prompt", "why?", "--think"])
    assert result.exit_code == 0, result.output
    assert "(thinking) deep thought\n" in result.output and "\nforty-two\n" in result.output
    assert "</think>" not in result.output


def test_think_and_tools_need_minimind3_and_json_needs_a_prompt(m3, tmp_path):
    weights = [str(m3[1]["m2"]), "--tokenizer", str(m3[0]["m2"].path)]
    result = runner.invoke(app, ["chat", "--weights", *weights, "--prompt", "hi", "--think", "--tools", "demo"])
    assert result.exit_code == 1 and "--think and --tools: " in result.output
    assert "MiniMind2's chat template" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["chat", "--weights", *weights, "--json"])
    assert result.exit_code == 2 and "--json needs --prompt" in result.output
    (tmp_path / "bad.json").write_text("[1]")
    result = runner.invoke(app, ["chat", "--weights", *weights, "--prompt", "hi",
                                 "--tools", str(tmp_path / "bad.json")])
    assert result.exit_code == 1 and "tool 0 has no \"name\"" in result.output
