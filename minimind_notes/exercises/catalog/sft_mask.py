"""The SFT loss mask: labels are the token ids on the assistant's replies (through <|im_end|>), -100 elsewhere."""

from __future__ import annotations

from functools import cache

from minimind_notes.exercises.spec import Case, Exercise, Mistake

SOLUTION = '''\
IGNORE = -100


def sft_labels(ids, header, end_id):
    labels = [IGNORE] * len(ids)
    i = 0
    while i < len(ids):
        if ids[i:i + len(header)] == header:
            j = i + len(header)
            while j < len(ids) and ids[j] != end_id:
                labels[j] = ids[j]
                j += 1
            if j < len(ids):
                labels[j] = ids[j]  # <|im_end|> is learned too: the model must learn to stop
            i = j
        i += 1
    return labels
'''

DOCS = {"sft_labels": {
    "en": """SFT labels for a tokenized chat: a list as long as ids.

    ids: the conversation's token ids (a list of ints), rendered with MiniMind's ChatML template, possibly cut
    at max_seq_len. header: the ids of `<|im_start|>assistant\\n`, where each assistant reply starts. end_id: the
    id of `<|im_end|>`. labels[i] = ids[i] for the tokens of every assistant reply, from the token after the
    header through its <|im_end|> (the model learns to answer AND to stop), IGNORE (-100) everywhere else
    (system, user, the headers). Do not shift: the model shifts labels itself.""",
    "zh": """对话 token 的 SFT 标签:与 ids 等长的列表。

    ids:用 MiniMind 的 ChatML 模板渲染后的 token id(int 列表),可能在 max_seq_len 处被截断。header:
    `<|im_start|>assistant\\n` 的 id,即每段助手回复开始的地方。end_id:`<|im_end|>` 的 id。
    每段助手回复的 token(从 header 之后那个 token 一直到它的 <|im_end|>,模型既学回答也学停止)
    labels[i] = ids[i],其余位置(system、user、各个 header)都是 IGNORE (-100)。不要移位:模型会自己移位。""",
}}

HINTS = [
    {"en": "Start from [-100] * len(ids) and fill in only the replies.",
     "zh": "从 [-100] * len(ids) 开始,只填回复部分。"},
    {"en": "A reply starts right after a match of ids[i:i + len(header)] == header and runs to the next end_id, "
           "inclusive.",
     "zh": "回复从 ids[i:i + len(header)] == header 匹配之后开始,一直到下一个 end_id(含)。"},
    {"en": "A conversation cut at max_seq_len may end inside a reply: learn up to the cut.",
     "zh": "在 max_seq_len 处截断的对话可能停在回复中间:学到截断处为止。"},
]

MISTAKES = [
    Mistake("prompt_tokens", "labels = [IGNORE] * len(ids)", "labels = list(ids)",
            {"en": "The loss counts the prompt tokens (system, user, headers): set their labels to -100, so the model "
                   "learns to answer, not to imitate the user.",
             "zh": "损失算进了提示部分(system、user、header):把它们的标签设为 -100,模型要学的是回答,不是模仿用户。"}),
    Mistake("no_end", "labels[j] = ids[j]  # <|im_end|>", "pass  # <|im_end|>",
            {"en": "<|im_end|> is not learned: include it, or the model never learns to stop.",
             "zh": "<|im_end|> 没有学:要包含它,否则模型学不会停止。"}),
    Mistake("header_learned", "j = i + len(header)", "j = i",
            {"en": "The header <|im_start|>assistant\\n is context, not a target: start after it.",
             "zh": "header <|im_start|>assistant\\n 是上下文,不是目标:从它之后开始。"}),
    Mistake("shifted", "                labels[j] = ids[j]\n                j += 1",
            "                labels[j - 1] = ids[j]\n                j += 1",
            {"en": "Do not shift the labels: labels[i] = ids[i]; the model compares logits[t] with labels[t + 1] "
                   "itself.",
             "zh": "不要移位:labels[i] = ids[i];模型自己会拿 logits[t] 与 labels[t + 1] 比较。"}),
]

CHATS = [
    ([{"role": "user", "content": "hi there"}, {"role": "assistant", "content": "Hello! How can I help?"}], 512),
    ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
      {"role": "assistant", "content": "4"}, {"role": "user", "content": "and 3+3?"},
      {"role": "assistant", "content": "6, of course."}], 512),
    ([{"role": "user", "content": "你好,请介绍一下你自己。"},
      {"role": "assistant", "content": "我是 MiniMind,一个小语言模型。"}], 512),
    ([{"role": "user", "content": "Write the word assistant twice."},
      {"role": "assistant", "content": "assistant assistant"}], 512),
]
TRUNCATED = ([{"role": "user", "content": "Count to ten."},
              {"role": "assistant", "content": "one two three four five six seven eight nine ten"}], 20)


@cache
def tokenizer():
    from minimind_notes.data.tokenizer import MiniMindTokenizer

    return MiniMindTokenizer.from_dir()


@cache
def real_labels() -> dict[tuple[int, ...], list[int]]:
    """The project's SFT labels (data/datasets.py: masked_ids) of each chat, by its ids."""
    from minimind_notes.data.datasets import masked_ids

    return {tuple(ids): labels for ids, labels in (masked_ids(tokenizer(), chat, n) for chat, n in [*CHATS, TRUNCATED])}


def oracle(ids, header, end_id):
    return real_labels()[tuple(ids)]


def cases():
    tok, table = tokenizer(), real_labels()
    chats = list(table)
    args = (tok.encode("<|im_start|>assistant\n"), tok.eos_token_id)  # the header each reply starts after
    titles = ["one turn", "system prompt and two turns", "Chinese", "the word 'assistant' in the text"]
    for title, ids in zip(titles, chats, strict=False):
        yield Case(f"labels: {title}", "sft_labels", (list(ids), *args))
    yield Case("edge: cut at max_seq_len inside the reply", "sft_labels", (list(chats[-1]), *args))


EXERCISE = Exercise(
    name="sft_mask", module="sft-lora", minutes=15,
    title={"en": "The SFT loss mask", "zh": "SFT 损失掩码"},
    solution=SOLUTION, docs=DOCS, hints=HINTS,
    real_code="minimind_notes/data/datasets.py: masked_ids; data/tokenizer.py: MiniMindTokenizer.chat_ids",
    oracle={"sft_labels": oracle}, cases=cases, mistakes=MISTAKES,
)
