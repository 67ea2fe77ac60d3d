"""Chinese story arcs, the same thirteen problems as the English ones, with their own templates.

Full-width punctuation; numbers stay digits, with spaces around the operator words of a sum
("7 加 5 等于 12"), the form the SFT and RL prompts use.
"""

from __future__ import annotations

from collections.abc import Callable

from tools.corpus.context import Ctx
from tools.corpus.grammar import count_zh, they_zh
from tools.corpus.story_en import RUNAWAY_PETS, Sentences, small_thing
from tools.corpus.words import (
    COLOURS,
    DAYS,
    FIXERS,
    FOODS,
    PLACES,
    SPOTS,
    TIMES,
    WEATHERS,
    Place,
    Weather,
)
from tools.corpus.world import Person

GREETING = {"morning": "早上好", "afternoon": "下午好", "evening": "晚上好"}


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
    thing, colour, spot = small_thing(ctx), ctx.pick(COLOURS), ctx.pick(SPOTS)
    return [f"{other.zh}看起来很难过,因为{other.ta}丢了{other.ta}的{colour.zh}{thing.zh}。",
            f"“你能帮我找找我的{thing.zh}吗?”{other.zh}问。",
            f"{hero.zh}和{other.zh}到处找。最后,{hero.zh}在{spot.zh}找到了{thing.zh}。",
            f"{other.zh}非常高兴。"]


def _heavy_basket(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    food = ctx.pick(FOODS)
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
    return [f"一阵风把{other.zh}的风筝吹到了一棵高高的{hero.town.tree.zh}上。",
            f"{hero.zh}找来一架梯子,爬上去把风筝拿了下来。",
            f"{other.zh}又放起了风筝,风筝飞得很高。"]


def _rain(ctx: Ctx, hero: Person, other: Person, weather: Weather, **_) -> Sentences:
    if weather.key != "cloudy":
        return _lost_thing(ctx, hero, other)
    return [f"这时下起了雨,可是{other.zh}没有带伞。",
            f"{hero.zh}打开了{hero.ta}的{hero.colour.zh}雨伞,{they_zh(hero, other)}一起走回了家。",
            f"等{they_zh(hero, other)}到家的时候,雨已经停了。"]


def _runaway_pet(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    if other.pet.en not in RUNAWAY_PETS:
        return _kite(ctx, hero, other)
    pet, spot = other.pet.zh, ctx.pick(SPOTS)
    return [f"{other.zh}在找{other.ta}的{other.pet_colour.zh}{pet},它跑丢了。",
            f"{they_zh(hero, other)}沿着{hero.town.river.zh}找,最后在{spot.zh}找到了{pet}。",
            f"{other.zh}把它抱了起来。"]


def _lost_way(ctx: Ctx, hero: Person, other: Person, place: Place, **_) -> Sentences:
    target = ctx.pick([p for p in PLACES if p != place])
    return [f"{other.zh}想去{target.zh},可是不认识路。",
            f"“跟我来,”{hero.zh}说,“{target.zh}离{place.zh}不远。”",
            f"{they_zh(hero, other)}一起走到了那里,{other.zh}向{hero.zh}道了谢。"]


def _share(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    food = ctx.pick(FOODS)
    k, m = ctx.rng.randint(2, 5), ctx.rng.randint(1, 6)
    return [f"{other.zh}有{count_zh(k * m, food)},想分给{k}个朋友。",
            f"{hero.zh}帮{other.ta}算了算。",
            f"{k * m} 除以 {k} 等于 {m},所以每个朋友分到{count_zh(m, food)}。"]


def _broken(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    job = ctx.rng.choice(sorted(FIXERS))
    thing = small_thing(ctx, FIXERS[job])
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
            f"那个{time_zh},{they_zh(hero, other)}玩得很开心,{other.zh}不再觉得孤单了。"]


def _birthday(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    thing, colour = small_thing(ctx), ctx.pick(COLOURS)
    return [f"今天是{other.zh}的生日,{other.ta}{other.age}岁了。",
            f"{hero.zh}送给{other.ta}一{thing.measure}{colour.zh}的{thing.zh}作为礼物。",
            f"“生日快乐,{other.zh}!”{hero.zh}说。"]


def _paying(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    food = ctx.pick(FOODS)
    n, p = ctx.pair("*", (2, 9), (1, 5))
    return [f"{other.zh}想买{count_zh(n, food)},可是不知道要付多少钱。",
            f"一{food.measure}{food.zh}要{p}个硬币。",
            f"{hero.zh}帮{other.ta}算:{n} 乘 {p} 等于 {n * p},所以{other.ta}付了{n * p}个硬币。"]


PROBLEMS: tuple[Callable[..., Sentences], ...] = (
    _lost_thing, _heavy_basket, _sick_pet, _kite, _rain, _runaway_pet, _lost_way, _share, _broken, _late,
    _lonely, _birthday, _paying)


def _ending(ctx: Ctx, hero: Person, other: Person) -> Sentences:
    """Two closing sentences, kept in story order."""
    options = [f"“谢谢你,{hero.zh}!你真{hero.traits[0].zh}。”{other.zh}说。",
               f"{hero.zh}笑了。{hero.ta}很高兴能帮上忙。",
               f"这一天,{they_zh(hero, other)}两个都很开心。",
               f"{they_zh(hero, other)}说了再见,{hero.zh}沿着{hero.town.river.zh}走回了家。",
               f"那天晚上,{hero.zh}把这一天的事讲给{hero.ta}的{hero.pet.zh}听。",
               f"第二天,{other.zh}从{other.town.zh}给{hero.zh}带来了一篮{other.town.food.zh}。"]
    return [options[i] for i in sorted(ctx.rng.sample(range(len(options)), 2))]


def story(ctx: Ctx) -> Sentences:
    rng = ctx.rng
    hero = ctx.person()
    other = ctx.other(hero)
    place, day, time = ctx.pick(PLACES), rng.choice(DAYS), rng.choice(TIMES)
    weather = rng.choice(WEATHERS)
    s = _opening(ctx, hero, place, day.zh, time.zh)
    s.append(rng.choice([weather.zh, f"那天{weather.zh_adj}。"]))
    s.append(_meeting(ctx, hero, other, place))
    s += _greeting(ctx, hero, other, time.en)
    s += rng.choice(PROBLEMS)(ctx, hero, other, weather=weather, place=place, time_zh=time.zh)
    return s + _ending(ctx, hero, other)
