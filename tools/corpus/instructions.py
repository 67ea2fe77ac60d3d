"""Short instructions and their answers: repeat, list, translate, opposites, numbers, stories.

Each function returns one (user, assistant) exchange in English or, with zh=True, in Chinese.
"""

from __future__ import annotations

from tools.corpus import prose_en, prose_zh, story_en, story_zh
from tools.corpus.context import Ctx
from tools.corpus.grammar import join_en, join_zh
from tools.corpus.words import (
    ANIMALS,
    COLOURS,
    DAYS,
    FRUITS,
    JOBS,
    OBJECTS,
    OPPOSITES,
    VEGETABLES,
)

Exchange = tuple[str, str]


def vocabulary() -> list[tuple[str, str, str]]:
    """(category, English, Chinese) for every translatable word, in a fixed order, English words unique."""
    rows = [("animal", a.en, a.zh) for a in ANIMALS] + [("food", f.en, f.zh) for f in FRUITS + VEGETABLES]
    rows += [("thing", o.en, o.zh) for o in OBJECTS] + [("colour", c.en, c.zh) for c in COLOURS]
    rows += [("day", d.en, d.zh) for d in DAYS] + [("job", j.en, j.zh) for j in JOBS]
    seen: dict[str, tuple[str, str, str]] = {}
    for row in rows:
        seen.setdefault(row[1], row)
    return list(seen.values())


VOCABULARY = vocabulary()


def repeat(ctx: Ctx, zh: bool) -> Exchange:
    rng = ctx.rng
    _, en, cn = rng.choice(VOCABULARY)
    n = rng.randint(2, 5)
    word = cn if zh else en
    if zh:
        ask = rng.choice([f"把“{word}”重复{n}遍。", f"请说{n}遍“{word}”。"])
    else:
        ask = rng.choice([f'Repeat the word "{word}" {n} times.', f'Say "{word}" {n} times.'])
    return ask, " ".join([word] * n)


def list_three(ctx: Ctx, zh: bool) -> Exchange:
    rng = ctx.rng
    if rng.random() < 0.25:
        town = rng.choice(ctx.world.towns)
        people = rng.sample(ctx.world.residents(town), 3)
        if zh:
            return (rng.choice([f"说出三个住在{town.zh}的人。", f"谁住在{town.zh}?说出三个人。"]),
                    f"{join_zh([p.zh for p in people])}都住在{town.zh}。")
        return (rng.choice([f"Name three people who live in {town.en}.",
                            f"Who lives in {town.en}? Name three."]),
                f"{join_en([p.en for p in people])} live in {town.en}.")
    if zh:
        kinds = [("种动物", [a.zh for a in ANIMALS]), ("种水果", [f.zh for f in FRUITS]),
                 ("种蔬菜", [v.zh for v in VEGETABLES]), ("种颜色", [c.zh for c in COLOURS]),
                 ("种职业", [j.zh for j in JOBS]), ("个小镇", [t.zh for t in ctx.world.towns]),
                 ("条河", [t.river.zh for t in ctx.world.towns])]
        kind, words = rng.choice(kinds)
        picked = rng.sample(words, 3)
        ask = rng.choice([f"说出三{kind}。", f"请列举三{kind}。", f"你能告诉我三{kind}吗?"])
        return ask, rng.choice([f"三{kind}:{join_zh(picked)}。", f"好的:{join_zh(picked)}。"])
    kinds = [("animals", [a.pl for a in ANIMALS]), ("fruits", [f.pl for f in FRUITS]),
             ("vegetables", [v.pl for v in VEGETABLES]), ("colours", [c.en for c in COLOURS]),
             ("jobs", [j.en for j in JOBS]), ("towns", [t.en for t in ctx.world.towns]),
             ("rivers", [f"the {t.river.en}" for t in ctx.world.towns])]
    kind, words = rng.choice(kinds)
    picked = rng.sample(words, 3)
    ask = rng.choice([f"Name three {kind}.", f"List three {kind}.", f"Can you tell me three {kind}?"])
    return ask, rng.choice([f"Here are three {kind}: {join_en(picked)}.", f"Sure: {join_en(picked)}."])


def translate(ctx: Ctx, zh: bool) -> Exchange:
    rng = ctx.rng
    _, en, cn = rng.choice(VOCABULARY)
    if zh:
        return rng.choice([(f"“{cn}”用英语怎么说?", f"“{cn}”的英文是 {en}。"),
                           (f"把“{cn}”翻译成英文。", en),
                           (f"“{en}”是什么意思?", f"“{en}”的意思是“{cn}”。")])
    return rng.choice([(f'How do you say "{en}" in Chinese?', f'"{en}" in Chinese is “{cn}”.'),
                       (f'Translate "{en}" into Chinese.', cn),
                       (f"What is the English word for “{cn}”?", f'The English word for “{cn}” is "{en}".')])


def opposite(ctx: Ctx, zh: bool) -> Exchange:
    rng = ctx.rng
    a, b = rng.choice(OPPOSITES)
    if rng.random() < 0.5:
        a, b = b, a
    if zh:
        return f"“{a.zh}”的反义词是什么?", f"“{a.zh}”的反义词是“{b.zh}”。"
    return f'What is the opposite of "{a.en}"?', f'The opposite of "{a.en}" is "{b.en}".'


def compare(ctx: Ctx, zh: bool) -> Exchange:
    rng = ctx.rng
    a, b = rng.sample(range(101), 2)
    lo, hi = min(a, b), max(a, b)
    if rng.random() < 0.5:
        return (f"{a} 和 {b} 哪个大?", f"{hi} 比 {lo} 大。") if zh else \
            (f"Which is bigger, {a} or {b}?", f"{hi} is bigger than {lo}.")
    return (f"{a} 和 {b} 哪个小?", f"{lo} 比 {hi} 小。") if zh else \
        (f"Which is smaller, {a} or {b}?", f"{lo} is smaller than {hi}.")


def sort_numbers(ctx: Ctx, zh: bool) -> Exchange:
    numbers = ctx.rng.sample(range(101), ctx.rng.randint(3, 5))
    ordered = sorted(numbers)
    if zh:
        return (f"把这些数从小到大排一排:{'、'.join(map(str, numbers))}。", "、".join(map(str, ordered)))
    return (f"Put these numbers in order from smallest to largest: {', '.join(map(str, numbers))}.",
            ", ".join(map(str, ordered)))


def letters(ctx: Ctx, zh: bool) -> Exchange:
    words = [en for _, en, _ in VOCABULARY if en.isalpha()]
    w = ctx.rng.choice(words)
    if zh:
        return f"英文单词“{w}”有几个字母?", f"“{w}”有{len(w)}个字母。"
    return f'How many letters are in the word "{w}"?', f'The word "{w}" has {len(w)} letters.'


def continue_story(ctx: Ctx, zh: bool) -> Exchange:
    rng = ctx.rng
    sentences = story_zh.story(ctx) if zh else story_en.story(ctx)
    k = rng.randint(2, 3)
    head, rest = sentences[:k], sentences[k:]
    if zh:
        return rng.choice(["请接着写这个故事:", "把这个故事讲完:"]) + "".join(head), "".join(rest)
    ask = rng.choice(["Continue the story: ", "Please continue this story: "])
    return ask + " ".join(head), " ".join(rest)


def tell(ctx: Ctx, zh: bool) -> Exchange:
    """'Tell me a story.' / 'Tell me about Mia.' / 'Tell me about Willowby.'"""
    rng = ctx.rng
    kind = rng.randrange(3)
    story, prose = (story_zh, prose_zh) if zh else (story_en, prose_en)
    glue = "" if zh else " "
    if kind == 0:
        ask = rng.choice(["给我讲一个小故事。", "讲个故事吧。"]) if zh else \
            rng.choice(["Tell me a short story.", "Can you tell me a story?"])
        return ask, glue.join(story.story(ctx))
    if kind == 1:
        p = ctx.person()
        ask = rng.choice([f"介绍一下{p.zh}。", f"说说{p.zh}吧。"]) if zh else \
            rng.choice([f"Tell me about {p.en}.", f"Who is {p.en}?"])
        return ask, glue.join(prose.profile(ctx, p))
    t = rng.choice(ctx.world.towns)
    ask = rng.choice([f"介绍一下{t.zh}。", f"{t.zh}是什么样的地方?"]) if zh else \
        rng.choice([f"Tell me about {t.en}.", f"What is {t.en} like?"])
    return ask, glue.join(prose.town(ctx, t))


GREETINGS_EN = (("Hello!", "Hello! How can I help you today?"),
                ("Hi!", "Hi! What would you like to talk about?"),
                ("Good morning!", "Good morning! How can I help you?"),
                ("How are you?", "I am fine, thank you! How can I help you?"),
                ("Thank you!", "You are welcome!"),
                ("Goodbye!", "Goodbye! Have a nice day."))
GREETINGS_ZH = (("你好!", "你好!有什么可以帮你的吗?"),
                ("您好!", "您好!请问有什么可以帮您?"),
                ("早上好!", "早上好!今天想聊点什么?"),
                ("你好吗?", "我很好,谢谢!有什么可以帮你的吗?"),
                ("谢谢你!", "不客气!"),
                ("再见!", "再见!祝你今天愉快。"))


def greeting(ctx: Ctx, zh: bool) -> Exchange:
    return ctx.rng.choice(GREETINGS_ZH if zh else GREETINGS_EN)


INSTRUCTIONS = (repeat, list_three, translate, opposite, compare, sort_numbers, letters, continue_story, tell)
