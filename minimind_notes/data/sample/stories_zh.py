"""Chinese pretraining paragraphs, the same kinds as the English ones, with their own templates.

Sentences use full-width punctuation; numbers stay digits, with spaces around the operator words
of a sum ("7 加 5 等于 12"), the same form the SFT and RL prompts use.
"""

from __future__ import annotations

from collections.abc import Callable

from minimind_notes.data.sample.arithmetic import SYMBOL, ZH_WORD, draw
from minimind_notes.data.sample.context import Ctx
from minimind_notes.data.sample.grammar import count_zh, join_zh
from minimind_notes.data.sample.stories_en import RUNAWAY_PETS, Sentences
from minimind_notes.data.sample.words import (
    ANIMALS,
    COLOURS,
    DAYS,
    DRINKS,
    FIXERS,
    FOODS,
    FRUITS,
    MEALS,
    OBJECTS,
    PLACES,
    SEASONS,
    SMALL_THINGS,
    SPOTS,
    TIMES,
    WEATHERS,
    Noun,
    Place,
    Weather,
)
from minimind_notes.data.sample.world import Person, Town

GREETING = {"morning": "早上好", "afternoon": "下午好", "evening": "晚上好"}


def _they(a: Person, b: Person) -> str:
    return "她们" if a.female and b.female else "他们"


def _thing(ctx: Ctx, names: tuple[str, ...] = SMALL_THINGS) -> Noun:
    name = ctx.rng.choice(names)
    return next(o for o in OBJECTS if o.en == name)


# --- story arc -------------------------------------------------------------------------------------

def _opening(ctx: Ctx, hero: Person, place: Place, day: str, time: str) -> Sentences:
    h = hero.zh
    options = [[f"{day}{time},{h}去了{hero.town.zh}的{place.zh}。"],
               [f"{day}的{time},{h}走路去{place.zh}。"],
               [f"{h}住在{hero.town.zh}。", f"有一天{time},{hero.ta}去了{place.zh}。"],
               [f"{h}是一名{hero.job.zh}。", f"{day}那天{hero.ta}有空,就去了{place.zh}。"]]
    if hero.job.place != place:
        options.append([f"{h}在{hero.job.place.zh}干完了活,去了{place.zh}。"])
    return ctx.rng.choice(options)


def _meeting(ctx: Ctx, hero: Person, other: Person, place: Place) -> str:
    ta, o = hero.ta, other.zh
    if hero.friend == other.en:
        return ctx.rng.choice([f"在那里,{ta}遇到了{ta}最好的朋友{o}。",
                               f"在{place.zh},{ta}看见了好朋友{o}。"])
    return ctx.rng.choice([f"在那里,{ta}遇到了{o},{o}是{other.town.zh}的一名{other.job.zh}。",
                           f"在{place.zh},{ta}看见了{o}。{o}住在{other.town.zh},是一名{other.job.zh}。"])


def _greeting(ctx: Ctx, hero: Person, other: Person, time_en: str) -> Sentences:
    first = ctx.rng.choice([f"“你好,{other.zh}!”{hero.zh}说。",
                            f"“{other.zh},{GREETING[time_en]}!”{hero.zh}说。"])
    second = ctx.rng.choice([f"“你好,{hero.zh}!你好吗?”{other.zh}说。",
                             f"“啊,是{hero.zh}呀!”{other.zh}笑着说。"])
    return [first, second]


def _lost_thing(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    thing, colour, spot = _thing(ctx), ctx.rng.choice(COLOURS), ctx.rng.choice(SPOTS)
    return [f"{other.zh}看起来很难过,因为{other.ta}丢了{other.ta}的{colour.zh}{thing.zh}。",
            f"“你能帮我找找我的{thing.zh}吗?”{other.zh}问。",
            f"{hero.zh}和{other.zh}到处找。最后,{hero.zh}在{spot.zh}找到了{thing.zh}。",
            f"{other.zh}非常高兴。"]


def _heavy_basket(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    food = ctx.rng.choice(FOODS)
    n, k = ctx.pair("-", (6, 20), (1, 4))
    return [f"{other.zh}提着一个很重的篮子,里面有{count_zh(n, food)}。",
            f"{hero.zh}帮{other.ta}把篮子提回了家。",
            f"为了表示感谢,{other.zh}送给{hero.zh}{count_zh(k, food)}。",
            f"{n} 减 {k} 等于 {n - k},所以{other.zh}还剩{count_zh(n - k, food)}。"]


def _sick_pet(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    pet = other.pet.zh
    s = [f"{other.zh}很担心,因为{other.ta}的{pet}一整天都没有吃东西。"]
    if hero.job.en == "vet":
        s.append(f"{hero.zh}是一名兽医,{hero.ta}仔细地给{pet}看了病,还给它吃了药。")
    else:
        vet = ctx.rng.choice(ctx.world.with_job("vet"))
        s += [f"{hero.zh}带着{pet}去找{vet.town.zh}的兽医{vet.zh}。", f"{vet.zh}给{pet}吃了一点药。"]
    return s + [f"不久,{pet}又想吃东西了,{other.zh}笑了。"]


def _kite(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    return [f"一阵风把{other.ta}的风筝吹到了一棵高高的{hero.town.tree.zh}上。",
            f"{hero.zh}找来一架梯子,爬上去把风筝拿了下来。",
            f"{other.zh}又放起了风筝,风筝飞得很高。"]


def _rain(ctx: Ctx, hero: Person, other: Person, weather: Weather, **_) -> Sentences:
    if weather.key != "cloudy":
        return _lost_thing(ctx, hero, other)
    return [f"这时下起了雨,可是{other.zh}没有带伞。",
            f"{hero.zh}打开了{hero.ta}的{hero.colour.zh}雨伞,{_they(hero, other)}一起走回了家。",
            f"等{_they(hero, other)}到家的时候,雨已经停了。"]


def _runaway_pet(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    if other.pet.en not in RUNAWAY_PETS:
        return _kite(ctx, hero, other)
    pet, spot = other.pet.zh, ctx.rng.choice(SPOTS)
    return [f"{other.zh}在找{other.ta}的{other.pet_colour.zh}{pet},它跑丢了。",
            f"{_they(hero, other)}沿着{hero.town.river.zh}找,最后在{spot.zh}找到了{pet}。",
            f"{other.zh}把它抱了起来。"]


def _lost_way(ctx: Ctx, hero: Person, other: Person, place: Place, **_) -> Sentences:
    target = ctx.rng.choice([p for p in PLACES if p != place])
    return [f"{other.zh}想去{target.zh},可是不认识路。",
            f"“跟我来,”{hero.zh}说,“{target.zh}离{place.zh}不远。”",
            f"{_they(hero, other)}一起走到了那里,{other.zh}向{hero.zh}道了谢。"]


def _share(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    food = ctx.rng.choice(FOODS)
    k, m = ctx.rng.randint(2, 5), ctx.rng.randint(1, 6)
    return [f"{other.zh}有{count_zh(k * m, food)},想分给{k}个朋友。",
            f"{hero.zh}帮{other.ta}算了算。",
            f"{k * m} 除以 {k} 等于 {m},所以每个朋友分到{count_zh(m, food)}。"]


def _broken(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    job = ctx.rng.choice(sorted(FIXERS))
    thing = _thing(ctx, FIXERS[job])
    job_zh = ctx.world.with_job(job)[0].job.zh
    s = [f"{other.zh}的{thing.zh}坏了。"]
    if hero.job.en == job:
        return s + [f"{hero.zh}是一名{job_zh},所以{hero.ta}马上就把它修好了。"]
    if other.job.en == job:
        return s + [f"{other.zh}是一名{job_zh},所以{other.ta}自己把它修好了。"]
    fixer = ctx.rng.choice([p for p in ctx.world.with_job(job) if p != other])
    return s + [f"{hero.zh}说:“把它拿给{fixer.town.zh}的{job_zh}{fixer.zh}吧。”",
                f"{fixer.zh}很快就把{thing.zh}修好了。"]


def _late(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    return [f"{other.zh}在{other.job.place.zh}工作,那天{other.ta}上班快要迟到了。",
            f"{hero.zh}陪着{other.ta}快步走,{other.zh}刚好准时到了。",
            f"{other.zh}很高兴没有迟到。"]


def _lonely(ctx: Ctx, hero: Person, other: Person, time_zh: str = "天", **_) -> Sentences:
    return [f"{other.zh}觉得很孤单,因为{other.ta}的其他朋友都很忙。",
            f"{hero.zh}邀请{other.ta}一起{hero.hobby.zh}。",
            f"那个{time_zh},{_they(hero, other)}玩得很开心,{other.zh}不再觉得孤单了。"]


def _birthday(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    thing, colour = _thing(ctx), ctx.rng.choice(COLOURS)
    return [f"今天是{other.zh}的生日,{other.ta}{other.age}岁了。",
            f"{hero.zh}送给{other.ta}一{thing.measure}{colour.zh}的{thing.zh}作为礼物。",
            f"“生日快乐,{other.zh}!”{hero.zh}说。"]


def _paying(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    food = ctx.rng.choice(FOODS)
    n, p = ctx.pair("*", (2, 9), (1, 5))
    return [f"{other.zh}想买{count_zh(n, food)},可是不知道要付多少钱。",
            f"一{food.measure}{food.zh}要{p}个硬币。",
            f"{hero.zh}帮{other.ta}算:{n} 乘 {p} 等于 {n * p},所以{other.ta}付了{n * p}个硬币。"]


PROBLEMS: tuple[Callable[..., Sentences], ...] = (
    _lost_thing, _heavy_basket, _sick_pet, _kite, _rain, _runaway_pet, _lost_way, _share, _broken, _late,
    _lonely, _birthday, _paying)


def _ending(ctx: Ctx, hero: Person, other: Person) -> Sentences:
    options = [f"“谢谢你,{hero.zh}!你真{hero.traits[0].zh}。”{other.zh}说。",
               f"{hero.zh}笑了。{hero.ta}很高兴能帮上忙。",
               f"那天晚上,{hero.zh}回到家,把这一天的事讲给{hero.ta}的{hero.pet.zh}听。",
               f"{_they(hero, other)}说了再见,{hero.zh}沿着{hero.town.river.zh}走回了家。",
               f"这一天,{_they(hero, other)}两个都很开心。",
               f"第二天,{other.zh}从{other.town.zh}给{hero.zh}带来了一篮{other.town.food.zh}。"]
    return ctx.rng.sample(options, 2)


def story(ctx: Ctx) -> Sentences:
    rng = ctx.rng
    hero = ctx.person()
    other = ctx.other(hero)
    place, day, time = rng.choice(PLACES), rng.choice(DAYS), rng.choice(TIMES)
    weather = rng.choice(WEATHERS)
    s = _opening(ctx, hero, place, day.zh, time.zh)
    s.append(rng.choice([weather.zh, f"那天{weather.zh_adj}。"]))
    s.append(_meeting(ctx, hero, other, place))
    s += _greeting(ctx, hero, other, time.en)
    s += rng.choice(PROBLEMS)(ctx, hero, other, weather=weather, place=place, time_zh=time.zh)
    return s + _ending(ctx, hero, other)


# --- descriptions -----------------------------------------------------------------------------------

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
    t = t or rng.choice(ctx.world.towns)
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
    food = rng.choice(FOODS)
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
        fruit = rng.choice(FRUITS)
        s = draw(rng, "+", ctx.reserved, 30, low=1)
        return [f"{p.zh}摘了{count_zh(s.a, fruit)},{f.zh}摘了{count_zh(s.b, fruit)}。",
                f"{_they(p, f)}一共摘了{count_zh(s.value, fruit)}。"]
    if kind == 6:
        k = ctx.pair("+", (p.age, p.age), (1, 10))[1]
        return [f"{p.zh}今年{p.age}岁。", f"再过{k}年,{ta}就{p.age + k}岁了。"]
    if kind == 7:
        if p.age == f.age:
            return [f"{p.zh}和{f.zh}都是{p.age}岁。", f"{_they(p, f)}一样大。"]
        old, young = (p, f) if p.age > f.age else (f, p)
        return [f"{p.zh}今年{p.age}岁,{f.zh}今年{f.age}岁。",
                f"{old.zh}比{young.zh}大{old.age - young.age}岁。"]
    s = draw(rng, "-", ctx.reserved, 20, low=1)
    return [f"桌子上有{count_zh(s.a, food)}。", f"{p.zh}吃了{s.b}{m},所以还剩{s.value}{m}。"]


def arithmetic_story(ctx: Ctx) -> Sentences:
    s: Sentences = []
    for _ in range(ctx.rng.randint(2, 4)):
        s += _arith_line(ctx)
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
    for a in rng.sample(list(ANIMALS), rng.randint(3, 5)):
        lines = [f"{a.zh}有{a.legs}条腿。" if a.legs else f"{a.zh}没有腿。",
                 f"{a.zh}生活在{a.home_zh}。", f"{a.zh}{a.can_zh}。"]
        if a.sound_zh:
            lines.append(f"{a.zh}会{a.sound_zh}。")
        s += rng.sample(lines, rng.randint(2, len(lines)))
    return s


def routine(ctx: Ctx) -> Sentences:
    rng, p = ctx.rng, ctx.person()
    ta = p.ta
    s = [rng.choice([f"每天早上,{p.zh}很早起床,早饭吃{rng.choice(MEALS).zh}。",
                     f"{p.zh}每天很早起床,先喝一杯{rng.choice(DRINKS).zh}。"]),
         f"然后{ta}去{p.job.place.zh}{p.job.zh_does}。",
         rng.choice([f"中午,{ta}和{ctx.world.friend(p).zh}一起吃午饭。",
                     f"中午,{ta}吃一点{rng.choice(MEALS).zh}。"]),
         f"下午,{ta}照顾{ta}的{p.pet.zh}。",
         f"傍晚,{ta}喜欢{p.hobby.zh}。",
         f"晚上,{ta}看一会儿书,然后去睡觉。"]
    if rng.random() < 0.6:
        s.append(f"每个{p.town.market_day.zh},{ta}都去{p.town.zh}的集市买{p.food.zh}。")
    return s


def dialogue(ctx: Ctx) -> Sentences:
    rng, a = ctx.rng, ctx.person()
    b = ctx.other(a, 0.2)
    place = rng.choice(PLACES)
    pairs = [
        ([f"“你好,{b.zh}!你住在哪里?”{a.zh}问。"],
         [f"“我住在{b.town.zh},就在{b.town.river.zh}边上。”{b.zh}说。"]),
        ([f"“你是做什么工作的?”{a.zh}问。"],
         [f"“我是一名{b.job.zh}。我在{b.job.place.zh}{b.job.zh_does}。”{b.zh}说。"]),
        ([f"“你有宠物吗?”{a.zh}问。"],
         [f"“有,我有一{b.pet.measure}{b.pet_colour.zh}的{b.pet.zh}。”{b.zh}说。"]),
        ([f"“你最喜欢吃什么?”{a.zh}问。"], [f"“我最喜欢吃{b.food.zh}!”{b.zh}说。"]),
        ([f"“你今年多大了?”{a.zh}问。"], [f"“我今年{b.age}岁。”{b.zh}说。"]),
        ([f"“你最好的朋友是谁?”{a.zh}问。"], [f"“我最好的朋友是{ctx.world.friend(b).zh}。”{b.zh}说。"]),
    ]
    s = [f"有一天,{a.zh}在{place.zh}遇到了{b.zh}。"]
    for q, r in rng.sample(pairs, rng.randint(2, 4)):
        s += q + r
    return s + [rng.choice([f"“很高兴和你聊天。”{a.zh}说。", f"然后{_they(a, b)}说了再见。"])]


def season(ctx: Ctx) -> Sentences:
    rng = ctx.rng
    t = rng.choice(ctx.world.towns)
    name, facts = rng.choice(SEASONS)
    p = rng.choice(ctx.world.residents(t))
    s = [rng.choice([f"{t.zh}的{name.zh}到了。", f"现在是{t.zh}的{name.zh}。"])]
    s += [f"{name.zh},{fact}。" for _, fact in rng.sample(list(facts), rng.randint(2, 3))]
    s.append(f"{t.river.zh}边的{t.tree.zh}在风中轻轻摇动。")
    s.append(f"{p.zh}喜欢{name.zh},因为{p.ta}可以{p.hobby.zh}。")
    return s


PARAGRAPHS: tuple[tuple[Callable[[Ctx], Sentences], int], ...] = (
    (story, 6), (profile, 3), (town, 1), (arithmetic_story, 2), (math_facts, 1), (animals, 1),
    (routine, 1), (dialogue, 2), (season, 1))
