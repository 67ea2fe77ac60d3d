"""Chinese descriptive paragraphs, the same kinds as the English ones, with their own templates."""

from __future__ import annotations

from minimind_notes.data.phrasing import SYMBOL, ZH_WORD
from tools.corpus.arithmetic import draw
from tools.corpus.context import Ctx
from tools.corpus.grammar import count_zh, join_zh, they_zh
from tools.corpus.story_en import Sentences
from tools.corpus.words import (
    ANIMALS,
    DRINKS,
    FOODS,
    FRUITS,
    MEALS,
    PLACES,
    SEASONS,
)
from tools.corpus.world import Person, Town


def profile(ctx: Ctx, p: Person | None = None) -> Sentences:
    rng, p = ctx.rng, p or ctx.person()
    f = ctx.world.friend(p)
    ta, P = p.ta, p.zh
    s = [rng.choice([f"{P}住在{p.town.zh}。",
                     f"{P}来自{p.town.zh},那是{p.town.river.zh}边上一个{p.town.adjective.zh}的小镇。",
                     f"这是{P}。{ta}住在{p.town.zh}。"]),
         rng.choice([f"{P}是一名{p.job.zh}。", f"{P}的工作是{p.job.zh}。"]),
         rng.choice([f"{ta}在{p.job.place.zh}工作,每天都{p.job.zh_does}。",
                     f"{ta}每天在{p.job.place.zh}{p.job.zh_does}。"])]
    optional = [
        rng.choice([f"{ta}养了一{p.pet.measure}{p.pet_colour.zh}的{p.pet.zh}。",
                    f"{P}有一{p.pet.measure}宠物{p.pet.zh},是{p.pet_colour.zh}的。"]),
        rng.choice([f"{ta}最喜欢的颜色是{p.colour.zh}。", f"{P}喜欢{p.colour.zh}。"]),
        rng.choice([f"{ta}最喜欢吃{p.food.zh}。", f"{P}爱吃{p.food.zh}。"]),
        rng.choice([f"{P}今年{p.age}岁。", f"{ta}今年{p.age}岁了。"]),
        f"{P}很{p.traits[0].zh},也很{p.traits[1].zh}。",
        rng.choice([f"{ta}最好的朋友是{f.zh},{f.zh}是{f.town.zh}的一名{f.job.zh}。",
                    f"{P}和{f.zh}是最好的朋友。"]),
        rng.choice([f"空闲的时候,{ta}喜欢{p.hobby.zh}。", f"不工作的时候,{ta}喜欢{p.hobby.zh}。"]),
    ]
    return s + [x for x in optional if rng.random() < 0.75]


def town(ctx: Ctx, t: Town | None = None) -> Sentences:
    rng = ctx.rng
    t = t or ctx.town()
    people = ctx.world.residents(t)
    s = [rng.choice([f"{t.zh}是{t.river.zh}边上一个{t.adjective.zh}的小镇。",
                     f"{t.zh}坐落在{t.river.zh}边上。"]),
         rng.choice([f"镇上的{t.river.zh}上有{t.bridges}座桥。", f"{t.zh}有{t.bridges}座桥。"]),
         rng.choice([f"{t.zh}的{t.food.zh}很有名。", f"很多人从远方来{t.zh}买{t.food.zh}。"]),
         rng.choice([f"{t.zh}的集市在{t.market_day.zh}。", f"每到{t.market_day.zh},镇上的广场就有集市。"]),
         f"街道两旁种着很多{t.tree.zh}。",
         f"{join_zh([p.zh for p in people])}都住在{t.zh}。"]
    for p in rng.sample(people, 2):
        s.append(rng.choice([f"{p.zh}是镇上的一名{p.job.zh}。", f"{p.zh}在{p.job.place.zh}工作。"]))
    return s


def _arith_line(ctx: Ctx) -> Sentences:
    rng, p = ctx.rng, ctx.person()
    f, ta = ctx.world.friend(p), p.ta
    food = ctx.pick(FOODS)
    m = food.measure
    kind = rng.randrange(9)
    if kind == 0:
        s = draw(rng, "+", ctx.reserved, 20, low=1)
        return [f"{p.zh}有{count_zh(s.a, food)}。",
                f"{ta}在市场上又买了{s.b}{m},所以现在{ta}有{count_zh(s.value, food)}。"]
    if kind == 1:
        s = draw(rng, "-", ctx.reserved, 20, low=1)
        return [f"{p.zh}有{count_zh(s.a, food)}。", f"{ta}给了{f.zh}{s.b}{m},所以{ta}还剩{s.value}{m}。"]
    if kind == 2:
        s = draw(rng, "*", ctx.reserved, low=2)
        return [f"{p.zh}有{s.a}个篮子,每个篮子里有{count_zh(s.b, food)}。",
                f"所以一共有{count_zh(s.value, food)}。"]
    if kind == 3:
        n, price = ctx.pair("*", (1, 9), (1, 9))
        return [f"一{m}{food.zh}要{price}个硬币。", f"{p.zh}买了{count_zh(n, food)},付了{n * price}个硬币。"]
    if kind == 4:
        beast = rng.choice([a for a in ANIMALS if a.legs > 0])
        n = ctx.pair("*", (2, 9), (beast.legs, beast.legs))[0]
        return [f"农场里有{count_zh(n, beast)}。",
                f"每{beast.measure}{beast.zh}有{beast.legs}条腿,所以它们一共有{n * beast.legs}条腿。"]
    if kind == 5:
        fruit = ctx.pick(FRUITS)
        s = draw(rng, "+", ctx.reserved, 30, low=1)
        return [f"{p.zh}摘了{count_zh(s.a, fruit)},{f.zh}摘了{count_zh(s.b, fruit)}。",
                f"{they_zh(p, f)}一共摘了{count_zh(s.value, fruit)}。"]
    if kind == 6:
        k = ctx.pair("+", (p.age, p.age), (1, 10))[1]
        return [f"{p.zh}今年{p.age}岁。", f"再过{k}年,{ta}就{p.age + k}岁了。"]
    if kind == 7:
        if p.age == f.age:
            return [f"{p.zh}和{f.zh}都是{p.age}岁。", f"{they_zh(p, f)}一样大。"]
        old, young = (p, f) if p.age > f.age else (f, p)
        return [f"{p.zh}今年{p.age}岁,{f.zh}今年{f.age}岁。",
                f"{old.zh}比{young.zh}大{old.age - young.age}岁。"]
    s = draw(rng, "-", ctx.reserved, 20, low=1)
    return [f"桌子上有{count_zh(s.a, food)}。", f"{p.zh}吃了{s.b}{m},所以还剩{s.value}{m}。"]


def arithmetic_story(ctx: Ctx) -> Sentences:
    s: Sentences = []
    for _ in range(ctx.rng.randint(2, 4)):
        lines = _arith_line(ctx)
        if lines[0] not in s:  # the cast recurs: do not state the same fact twice
            s += lines
    return s


def math_facts(ctx: Ctx) -> Sentences:
    rng = ctx.rng
    s = [rng.choice(["我们来做算术题。", "下面是一些算式。", "数字很有趣。"])]
    for _ in range(rng.randint(4, 9)):
        kind = rng.randrange(8)
        n = rng.randint(1, 50)
        if kind < 3:
            x = draw(rng, "+-*"[kind], ctx.reserved)
            s.append(rng.choice([f"{x.a} {ZH_WORD[x.op]} {x.b} 等于 {x.value}。",
                                 f"{x.a} {SYMBOL[x.op]} {x.b} = {x.value}。"]))
        elif kind == 3:
            a, b = sorted(rng.sample(range(101), 2))
            s.append(f"{b} 比 {a} 大。")
        elif kind == 4:
            s.append(f"{n} 是{'双数' if n % 2 == 0 else '单数'}。")
        elif kind == 5:
            s.append(rng.choice([f"{n} 的两倍是 {2 * n}。", f"{2 * n} 的一半是 {n}。"]))
        elif kind == 6:
            s.append(rng.choice([f"比 {n} 多 10 的数是 {n + 10}。", f"{n} 后面的数是 {n + 1}。",
                                 f"{n} 前面的数是 {n - 1}。"]))
        else:
            k = rng.randint(2, 10)
            s.append(f"{k} 个 {k} 个地数:{'、'.join(str(k * i) for i in range(1, 6))}。")
    return s


def animals(ctx: Ctx) -> Sentences:
    rng = ctx.rng
    s = [rng.choice(["我们来认识一些动物。", "世界上有很多动物。"])]
    for a in ctx.pick_some(ANIMALS, rng.randint(3, 5)):
        lines = [f"{a.zh}有{a.legs}条腿。" if a.legs else f"{a.zh}没有腿。",
                 f"{a.zh}生活在{a.home_zh}。", f"{a.zh}{a.can_zh}。"]
        if a.sound_zh:
            lines.append(f"{a.zh}会{a.sound_zh}。")
        s += rng.sample(lines, rng.randint(2, len(lines)))
    return s


def routine(ctx: Ctx) -> Sentences:
    rng, p = ctx.rng, ctx.person()
    ta = p.ta
    s = [rng.choice([f"每天早上,{p.zh}很早起床,早饭吃{ctx.pick(MEALS).zh}。",
                     f"{p.zh}每天很早起床,先喝一杯{ctx.pick(DRINKS).zh}。"]),
         f"然后{ta}去{p.job.place.zh}{p.job.zh_does}。",
         rng.choice([f"中午,{ta}和{ctx.world.friend(p).zh}一起吃午饭。",
                     f"中午,{ta}吃一点{ctx.pick(MEALS).zh}。"]),
         f"下午,{ta}照顾{ta}的{p.pet.zh}。",
         f"傍晚,{ta}喜欢{p.hobby.zh}。",
         f"晚上,{ta}看一会儿书,然后去睡觉。"]
    if rng.random() < 0.6:
        s.append(f"每个{p.town.market_day.zh},{ta}都去{p.town.zh}的集市买{p.food.zh}。")
    return s


def dialogue(ctx: Ctx) -> Sentences:
    rng, a = ctx.rng, ctx.person()
    b = ctx.other(a, 0.0, use_cast=False)
    place = ctx.pick(PLACES)
    pairs = [
        ([f"“你住在哪里?”{a.zh}问。"],
         [f"“我住在{b.town.zh},就在{b.town.river.zh}边上。”{b.zh}说。"]),
        ([f"“你是做什么工作的?”{a.zh}问。"],
         [f"“我是一名{b.job.zh}。我在{b.job.place.zh}{b.job.zh_does}。”{b.zh}说。"]),
        ([f"“你有宠物吗?”{a.zh}问。"],
         [f"“有,我有一{b.pet.measure}{b.pet_colour.zh}的{b.pet.zh}。”{b.zh}说。"]),
        ([f"“你最喜欢吃什么?”{a.zh}问。"], [f"“我最喜欢吃{b.food.zh}!”{b.zh}说。"]),
        ([f"“你今年多大了?”{a.zh}问。"], [f"“我今年{b.age}岁。”{b.zh}说。"]),
        ([f"“你最好的朋友是谁?”{a.zh}问。"], [f"“我最好的朋友是{ctx.world.friend(b).zh}。”{b.zh}说。"]),
    ]
    s = [f"有一天,{a.zh}在{place.zh}遇到了{b.zh}。", f"“你好,{b.zh}!”{a.zh}说。"]
    for q, r in rng.sample(pairs, rng.randint(2, 4)):
        s += q + r
    return s + [rng.choice([f"“很高兴和你聊天。”{a.zh}说。", f"然后{they_zh(a, b)}说了再见。"])]


def season(ctx: Ctx) -> Sentences:
    rng = ctx.rng
    t = ctx.town()
    name, facts = rng.choice(SEASONS)
    p = ctx.cast[0] if ctx.cast and ctx.cast[0].town == t else rng.choice(ctx.world.residents(t))
    s = [rng.choice([f"{t.zh}的{name.zh}到了。", f"现在是{t.zh}的{name.zh}。"])]
    s += [f"{name.zh},{fact}。" for _, fact in rng.sample(list(facts), rng.randint(2, 3))]
    s.append(f"{t.river.zh}边的{t.tree.zh}在风中轻轻摇动。")
    s.append(f"{p.zh}喜欢{name.zh},因为{p.ta}可以{p.hobby.zh}。")
    return s
