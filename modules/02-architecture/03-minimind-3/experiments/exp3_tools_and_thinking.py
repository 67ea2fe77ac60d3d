"""minimind-3 exp3: tool calls and thinking, seen as tokens and as the SFT loss mask.

A small byte-level BPE with minimind-3's 36 special tokens is trained on the embedded corpus (the
same trainer as `minimind tokenizer train --specials minimind-3`, a smaller vocabulary so that it
takes a second). One conversation with everything minimind-3's template knows (a system prompt, two
tool definitions, a user question, the assistant's reasoning and tool call, the tool's result, the
final answer) is rendered with the tokenizer's own template and turned into ids and a loss mask by
`masked_ids`, exactly as SFT sees it. Then: which tokens are targets, how many tokens each part
costs, that the markers are single ids (and that MiniMind2's tokenizer has no such ids), what the
`open_thinking` switch changes in the prompt, and that a MiniMind2 tokenizer refuses the conversation.
"""

from __future__ import annotations

import itertools
import tempfile

from minimind_notes.data.chat import EOS
from minimind_notes.data.datasets import IGNORE, masked_ids
from minimind_notes.data.tokenizer import MiniMindTokenizer, train_tokenizer
from minimind_notes.errors import MiniMindError
from minimind_notes.lab.byte_lm import corpus_text
from minimind_notes.lab.experiment import Bar, ExperimentContext, main

VOCAB = 2000
MARKERS = ["<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]
TOOLS = [
    {"type": "function", "function": {
        "name": "calculator", "description": "Evaluate an arithmetic expression",
        "parameters": {"type": "object", "properties": {"expression": {"type": "string"}},
                       "required": ["expression"]}}},
    {"type": "function", "function": {
        "name": "current_time", "description": "The current date and time",
        "parameters": {"type": "object", "properties": {}}}},
]
CONVERSATION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is 37 * 91? (I typed <think> by accident.)"},
    {"role": "assistant", "content": "", "reasoning_content": "Multiplying by hand is error-prone; use the calculator.",
     "tool_calls": [{"type": "function", "function": {"name": "calculator", "arguments": {"expression": "37 * 91"}}}]},
    {"role": "tool", "content": "3367"},
    {"role": "assistant", "content": "37 * 91 = 3367."},
]


def train_small_tokenizer(folder: str) -> MiniMindTokenizer:
    text = corpus_text("train", "all", max_chars=300_000)
    return train_tokenizer(text.splitlines(), folder, VOCAB, specials="minimind-3", source="the embedded corpus")


def segments(tok: MiniMindTokenizer, ids: list[int], labels: list[int]) -> list[tuple[bool, int, str]]:
    """Runs of tokens with the same mask: (learned, number of tokens, decoded text)."""
    runs = []
    for learned, group in itertools.groupby(zip(ids, labels, strict=True), key=lambda pair: pair[1] != IGNORE):
        group_ids = [i for i, _ in group]
        runs.append((learned, len(group_ids), tok.decode(group_ids)))
    return runs


def clip(text: str, n: int = 70) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= n else text[:n // 2 - 2] + " ... " + text[-(n // 2 - 3):]


def run(ctx: ExperimentContext) -> None:
    with tempfile.TemporaryDirectory() as folder:
        tok = train_small_tokenizer(folder)
        shipped = MiniMindTokenizer.from_dir()
        ids, labels = masked_ids(tok, CONVERSATION, 10_000)
        text = tok.render_chat(CONVERSATION, tools=TOOLS)
        ids_tools, labels_tools = ids_with_tools(tok)
        report(ctx, tok, shipped, ids, labels, ids_tools, labels_tools, text)


def ids_with_tools(tok: MiniMindTokenizer) -> tuple[list[int], list[int]]:
    """The conversation with the tool definitions in the system turn (masked_ids' rule, tools given)."""
    ids, learn = tok.chat_ids(CONVERSATION, tools=TOOLS)
    return ids, [i if target else IGNORE for i, target in zip(ids, learn, strict=True)]


def report(ctx: ExperimentContext, tok: MiniMindTokenizer, shipped: MiniMindTokenizer, ids: list[int],
           labels: list[int], ids_tools: list[int], labels_tools: list[int], text: str) -> None:
    ctx.log("A minimind-3 tokenizer: vocabulary {v}, generation {g}; the shipped one: {s}.",
            "一个 minimind-3 分词器:词表 {v},代际 {g};项目自带的分词器:{s}。",
            v=tok.vocab_size, g=tok.generation, s=shipped.describe())
    runs = segments(tok, ids_tools, labels_tools)
    ctx.table({"en": "The conversation as SFT sees it: runs of tokens, learned (target) or context",
               "zh": "SFT 眼中的这段对话:一段段 token,学习目标或只是上下文"},
              ["learned?", "tokens", "text"], [["target" if learned else "-", n, clip(t)] for learned, n, t in runs])
    learned_text = tok.decode([i for i, label in zip(ids_tools, labels_tools, strict=True) if label != IGNORE])
    context_text = tok.decode([i for i, label in zip(ids_tools, labels_tools, strict=True) if label == IGNORE])
    call = '<tool_call>\n{"name": "calculator", "arguments": {"expression": "37 * 91"}}\n</tool_call>'
    expected = (f"<think>\n{CONVERSATION[2]['reasoning_content']}\n</think>\n\n{call}{EOS}"
                f"<think>\n\n</think>\n\n{CONVERSATION[4]['content']}{EOS}")
    ctx.metric("learned_text", learned_text)
    ctx.code_fact(
        "The targets decode to exactly the assistant's two turns: its reasoning in <think>, its tool call, "
        "<|im_end|>, then an empty <think></think> block and the answer; the system prompt, the tool definitions, "
        "the question and the tool's result \"3367\" inside <tool_response> are context only (a property of the "
        "template and masked_ids: the learned tokens decode to that text, and the result sits in the context)",
        "学习目标解码出来恰好是助手的两轮:<think> 里的推理、工具调用、<|im_end|>,然后是一个空的 <think></think> 块和"
        "回答;系统提示、工具定义、用户问题和 <tool_response> 里的工具结果 \"3367\" 都只是上下文(模板和 masked_ids "
        "的性质:学习的 token 解码后正是这段文本,且工具结果在上下文里)",
        learned_text == expected and "<tool_response>\n3367\n</tool_response>" in context_text)

    total, target = len(ids_tools), sum(label != IGNORE for label in labels_tools)
    tool_prompt = len(ids_tools) - len(ids)
    ctx.metric("tokens", {"total": total, "targets": target, "tool_definitions": tool_prompt,
                          "total_without_tools": len(ids),
                          "targets_without_tools": sum(label != IGNORE for label in labels)})
    ctx.metric("tool_definition_share", tool_prompt / total)
    ctx.code_fact(
        "The tools change the context only, not the targets: {t} targets with and without the tool definitions "
        "(a property of the template)",
        "工具只改变上下文,不改变学习目标:有没有工具定义,学习目标都是 {t} 个(模板的性质)",
        target == sum(label != IGNORE for label in labels), t=target)
    ctx.finding(
        "{t} of the {n} tokens are targets ({tp:.1%}); the two tool definitions and their instructions alone cost "
        "{tool} tokens ({toolp:.1%} of the conversation, all context), more than all the targets; without them the "
        "same targets are {t2} of {n2} ({tp2:.1%})",
        "{n} 个 token 里有 {t} 个是学习目标({tp:.1%});两个工具定义及其说明就占了 {tool} 个 token(整段对话的 "
        "{toolp:.1%},全是上下文),比全部学习目标还多;不给工具时,同样的目标是 {n2} 个中的 {t2} 个({tp2:.1%})",
        Bar({"en": "tool-definition tokens / target tokens", "zh": "工具定义 token 数 / 学习目标 token 数"},
            tool_prompt / target, ">", 1), t=target, n=total, tp=target / total, tool=tool_prompt,
        toolp=tool_prompt / total, t2=sum(label != IGNORE for label in labels), n2=len(ids),
        tp2=sum(label != IGNORE for label in labels) / len(ids))

    marker_ids = {m: tok.encode(m) for m in MARKERS}
    in_text = {m: text.count(m) for m in MARKERS}
    as_ids = {m: ids_tools.count(marker_ids[m][0]) for m in MARKERS}
    user_says = "<think>" in CONVERSATION[1]["content"]
    shipped_pieces = {m: len(shipped.encode(m)) for m in MARKERS}
    ctx.table({"en": "The markers: one id each in a minimind-3 tokenizer, several ordinary tokens in MiniMind2's",
               "zh": "各个标记:在 minimind-3 分词器里各是一个 id,在 MiniMind2 的分词器里是几个普通 token"},
              ["marker", "minimind-3 id", "in the rendered text", "as that id", "tokens in the shipped MiniMind2 one"],
              [[m, marker_ids[m][0] if len(marker_ids[m]) == 1 else str(marker_ids[m]), in_text[m], as_ids[m],
                shipped_pieces[m]] for m in MARKERS])
    single = all(len(v) == 1 and 21 <= v[0] <= 26 for v in marker_ids.values())
    ctx.code_fact(
        "Each of the six markers is one id (21-26) of the minimind-3 tokenizer. The rendered text holds <think> "
        "{nt} times but the id only {ni} times: the user typed one, and what a message says stays text (a property "
        "of the tokenizer: single ids, and every marker id comes from the template)",
        "六个标记在 minimind-3 分词器里各是一个 id(21-26)。渲染出的文本里有 {nt} 个 <think>,但这个 id 只出现 "
        "{ni} 次:有一个是用户打出来的,而消息里的内容始终是文本(分词器的性质:都是单个 id,且每个标记 id 都来自模板)",
        single and user_says and all(as_ids[m] == in_text[m] - (m == "<think>") for m in MARKERS),
        nt=in_text["<think>"], ni=as_ids["<think>"])
    ctx.metric("shipped_marker_tokens", shipped_pieces)
    ctx.code_fact(
        "The shipped MiniMind2 tokenizer has no such ids: its BPE splits each marker into {lo}-{hi} ordinary tokens",
        "项目自带的 MiniMind2 分词器没有这些 id:它的 BPE 把每个标记拆成 {lo}-{hi} 个普通 token",
        Bar({"en": "fewest MiniMind2 tokens for a marker", "zh": "MiniMind2 中一个标记最少的 token 数"},
            min(shipped_pieces.values()), ">", 1),
        lo=min(shipped_pieces.values()), hi=max(shipped_pieces.values()))

    question = CONVERSATION[:2]
    closed = tok.apply_chat_template(question, add_generation_prompt=True, tokenize=True)
    opened = tok.apply_chat_template(question, add_generation_prompt=True, tokenize=True, open_thinking=True)
    prompt_ids = tok.apply_chat_template(question, tokenize=True)
    tail_closed, tail_open = tok.decode(closed[len(prompt_ids):]), tok.decode(opened[len(prompt_ids):])
    ctx.metric("generation_prompts", {"default": tail_closed, "open_thinking": tail_open})
    ctx.code_fact(
        "The reply prompt decides whether the model thinks: by default it ends in {c!r}, an empty thinking block the "
        "model answers after; with open_thinking it ends in {o!r} and the model writes its reasoning first (a "
        "property of the template: the same prompt up to the <think> id, {nc} vs {no} tokens)",
        "回复提示决定模型是否思考:默认以 {c!r} 结尾,一个空的思考块,模型接着直接回答;open_thinking 时以 {o!r} 结尾,"
        "模型先写推理(模板的性质:两者在 <think> id 之前完全相同,分别为 {nc} 和 {no} 个 token)",
        closed[:len(opened)] == opened and opened[-2] == marker_ids["<think>"][0], c=tail_closed, o=tail_open,
        nc=len(closed), no=len(opened))

    try:
        shipped.apply_chat_template(CONVERSATION, tools=TOOLS)
        refused = ""
    except MiniMindError as e:
        refused = e.message
    ctx.code_fact(
        "The shipped MiniMind2 tokenizer refuses the same conversation instead of dropping its tools, tool call and "
        "reasoning: \"{r}\" (a property of its template: an error naming them)",
        "项目自带的 MiniMind2 分词器拒绝同一段对话,而不是悄悄丢掉工具、工具调用和推理:\"{r}\""
        "(模板的性质:报错并指出它们)",
        "tool_calls" in refused and "reasoning_content" in refused, r=refused)
    plot(ctx, runs)


def plot(ctx: ExperimentContext, runs: list[tuple[bool, int, str]]) -> None:
    plt = ctx.plt
    fig, ax = plt.subplots(figsize=(10, 2.6))
    start = 0
    for learned, n, _ in runs:
        ax.barh(0, n, left=start, color="tab:orange" if learned else "lightgrey", edgecolor="white")
        ax.text(start + n / 2, 0, str(n), ha="center", va="center", fontsize=8)
        start += n
    ax.set_yticks([])
    ax.set_xlabel("token position (orange: target of the SFT loss, grey: context; numbers: tokens in each run)")
    ax.set_title("A minimind-3 conversation with tools, a tool call and reasoning, as an SFT loss mask")
    ctx.savefig(fig, "tool_call_mask.png")


if __name__ == "__main__":
    main(__file__)
