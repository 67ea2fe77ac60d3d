"""Questions about the world with one right answer, in English and Chinese.

A `Fact` carries the training phrasings of its question (`asks`, used by SFT and DPO), one
held-out phrasing (`exam`, used only by the multiple-choice exam), the short right value and
the pool of values of the same kind, from which wrong answers and wrong options are drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tools.corpus.grammar import an, cap
from tools.corpus.words import ACTIVITIES, ANIMALS, COLOURS, DAYS, FOODS, JOBS, PET_NAMES, TREES
from tools.corpus.world import Person, Town, World, animal


@dataclass(frozen=True)
class Fact:
    lang: str  # "en" or "zh"
    asks: tuple[str, ...]
    exam: str  # "" when the fact is not used in the exam
    value: str
    pool: tuple[str, ...]  # every value of this kind, the right one included
    say: Callable[[str], str]  # a full-sentence answer stating a value

    @property
    def answer(self) -> str:
        return self.say(self.value)

    def wrong_values(self) -> list[str]:
        return [v for v in self.pool if v != self.value]


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _person_en(w: World, p: Person) -> list[Fact]:
    P, his = p.en, p.his
    towns = _unique([t.en for t in w.towns])
    names = _unique([q.en for q in w.people if q != p])
    return [
        Fact("en", (f"Where does {P} live?", f"What town is {P} from?"), f"In which town is {P}'s home?",
             p.town.en, towns, lambda v: f"{P} lives in {v}."),
        Fact("en", (f"What is {P}'s job?", f"What does {P} do for work?"), f"Which job does {P} have?",
             an(p.job.en), _unique([an(j.en) for j in JOBS]), lambda v: f"{P} is {v}."),
        Fact("en", (f"What pet does {P} have?", f"Does {P} have a pet?"),
             f"Which animal does {P} keep as a pet?", p.pet.en, PET_NAMES,
             lambda v: f"{P} has {an(p.pet_colour.en)} {v}."),
        Fact("en", (f"What does {P} like to eat?", f"What is {P}'s favourite food?"),
             f"Which food does {P} like best?", p.food.pl, _unique([f.pl for f in FOODS]),
             lambda v: f"{P} likes to eat {v}."),
        Fact("en", (f"What is {P}'s favourite colour?", f"What colour does {P} like best?"),
             f"{P} likes which colour the most?", p.colour.en, _unique([c.en for c in COLOURS]),
             lambda v: f"{P}'s favourite colour is {v}."),
        Fact("en", (f"How old is {P}?", f"What is {P}'s age?"), f"What age is {P} now?", str(p.age),
             tuple(str(a) for a in range(max(18, p.age - 6), min(70, p.age + 6) + 1)),
             lambda v: f"{P} is {v} years old."),
        Fact("en", (f"Who is {P}'s best friend?", f"Who is the best friend of {P}?"),
             f"Which person is {P}'s closest friend?", p.friend, names,
             lambda v: f"{P}'s best friend is {v}."),
        Fact("en", (f"What does {P} like to do in {his} free time?", f"What is {P}'s hobby?"),
             f"What does {P} enjoy doing after work?", p.hobby.ing, _unique([a.ing for a in ACTIVITIES]),
             lambda v: f"In {his} free time, {P} likes {v}."),
    ]


def _person_zh(w: World, p: Person) -> list[Fact]:
    P = p.zh
    towns = _unique([t.zh for t in w.towns])
    names = _unique([q.zh for q in w.people if q != p])
    pets = _unique([animal(n).zh for n in PET_NAMES])
    measure = {animal(n).zh: animal(n).measure for n in PET_NAMES}
    return [
        Fact("zh", (f"{P}住在哪里?", f"{P}是哪个镇的人?"), f"{P}的家在哪个镇?", p.town.zh, towns,
             lambda v: f"{P}住在{v}。"),
        Fact("zh", (f"{P}是做什么工作的?", f"{P}的工作是什么?"), f"{P}从事哪种职业?", p.job.zh,
             _unique([j.zh for j in JOBS]), lambda v: f"{P}是一名{v}。"),
        Fact("zh", (f"{P}有什么宠物?", f"{P}养了什么宠物?"), f"{P}养的宠物是哪种动物?", p.pet.zh, pets,
             lambda v: f"{P}养了一{measure[v]}{p.pet_colour.zh}的{v}。"),
        Fact("zh", (f"{P}喜欢吃什么?", f"{P}最喜欢的食物是什么?"), f"{P}最爱吃哪种食物?", p.food.zh,
             _unique([f.zh for f in FOODS]), lambda v: f"{P}最喜欢吃{v}。"),
        Fact("zh", (f"{P}最喜欢什么颜色?", f"{P}最喜欢的颜色是什么?"), f"{P}最偏爱哪种颜色?", p.colour.zh,
             _unique([c.zh for c in COLOURS]), lambda v: f"{P}最喜欢的颜色是{v}。"),
        Fact("zh", (f"{P}今年多大了?", f"{P}几岁了?"), f"{P}现在的年龄是多少岁?", str(p.age),
             tuple(str(a) for a in range(max(18, p.age - 6), min(70, p.age + 6) + 1)),
             lambda v: f"{P}今年{v}岁。"),
        Fact("zh", (f"{P}最好的朋友是谁?", f"谁是{P}最好的朋友?"), f"{P}最亲密的朋友是哪一位?",
             w.friend(p).zh, names, lambda v: f"{P}最好的朋友是{v}。"),
        Fact("zh", (f"{P}空闲的时候喜欢做什么?", f"{P}的爱好是什么?"), f"{P}下班后喜欢做什么?", p.hobby.zh,
             _unique([a.zh for a in ACTIVITIES]), lambda v: f"空闲的时候,{P}喜欢{v}。"),
    ]


def _town_en(w: World, t: Town) -> list[Fact]:
    T = t.en
    return [
        Fact("en", (f"Which river is {T} on?", f"What river flows through {T}?"),
             f"{T} lies on the banks of which river?", t.river.en, _unique([x.river.en for x in w.towns]),
             lambda v: f"{T} is on the {v}."),
        Fact("en", (f"What is {T} famous for?", f"What food is {T} known for?"),
             f"Which food made {T} famous?",
             t.food.pl, _unique([f.pl for f in FOODS]), lambda v: f"{T} is famous for its {v}."),
        Fact("en", (f"When is market day in {T}?", f"On which day is the market in {T}?"),
             f"The market in {T} is held on which day?", t.market_day.en, _unique([d.en for d in DAYS]),
             lambda v: f"Market day in {T} is {v}."),
        Fact("en", (f"How many bridges does {T} have?", f"How many bridges are there in {T}?"),
             f"What is the number of bridges in {T}?", str(t.bridges), tuple(str(n) for n in range(1, 7)),
             lambda v: f"The number of bridges in {T} is {v}."),
        Fact("en", (f"What trees grow in {T}?",), f"Which trees line the streets of {T}?", t.tree.en,
             _unique([x.en for x in TREES]), lambda v: f"Many {v} trees grow in {T}."),
    ]


def _town_zh(w: World, t: Town) -> list[Fact]:
    T = t.zh
    return [
        Fact("zh", (f"{T}在哪条河边?", f"哪条河流过{T}?"), f"{T}坐落在哪条河的岸边?", t.river.zh,
             _unique([x.river.zh for x in w.towns]), lambda v: f"{T}在{v}边上。"),
        Fact("zh", (f"{T}以什么出名?", f"{T}的什么最有名?"), f"{T}因为哪种食物而出名?", t.food.zh,
             _unique([f.zh for f in FOODS]), lambda v: f"{T}的{v}很有名。"),
        Fact("zh", (f"{T}的集市在星期几?", f"{T}哪天有集市?"), f"{T}每周哪一天举行集市?", t.market_day.zh,
             _unique([d.zh for d in DAYS]), lambda v: f"{T}的集市在{v}。"),
        Fact("zh", (f"{T}有几座桥?", f"{T}一共有多少座桥?"), f"{T}的桥的数量是多少?", str(t.bridges),
             tuple(str(n) for n in range(1, 7)), lambda v: f"{T}有{v}座桥。"),
        Fact("zh", (f"{T}的街道上种着什么树?",), f"{T}街道两旁是哪种树?", t.tree.zh,
             _unique([x.zh for x in TREES]), lambda v: f"{T}的街道两旁种着很多{v}。"),
    ]


def _general(lang: str) -> list[Fact]:
    facts: list[Fact] = []
    legs = ("0", "2", "4", "6", "8")
    places_en = _unique([x.place.en for x in JOBS])
    places_zh = _unique([x.place.zh for x in JOBS])
    prep = {x.place.en: x.place.prep for x in JOBS}  # "works on the farm", "works at the mill"
    for j in JOBS:
        if lang == "en":
            A = an(j.en)
            facts.append(Fact("en", (f"Where does {A} work?",), f"At which place does {A} usually work?",
                              j.place.en, places_en, lambda v, A=A: f"{cap(A)} works {prep[v]} the {v}."))
        else:
            facts.append(Fact("zh", (f"{j.zh}在哪里工作?",), f"{j.zh}通常在什么地方工作?", j.place.zh,
                              places_zh, lambda v, j=j: f"{j.zh}在{v}工作。"))
    for a in ANIMALS:  # homes overlap (owls live in trees and in forests): not exam questions
        sounds = _unique([x.sound_en if lang == "en" else x.sound_zh for x in ANIMALS if x.sound_en])
        homes = _unique([x.home_en if lang == "en" else x.home_zh for x in ANIMALS])
        if lang == "en":
            A = an(a.en)
            facts += [
                Fact("en", (f"How many legs does {A} have?",), f"{cap(A)} has how many legs?", str(a.legs),
                     legs,
                     lambda v, A=A: f"{cap(A)} has no legs." if v == "0" else f"{cap(A)} has {v} legs."),
                Fact("en", (f"Where do {a.pl} live?",), "", a.home_en, homes,
                     lambda v, a=a: f"{cap(a.pl)} live {v}."),
            ]
            if a.sound_en:
                facts.append(Fact("en", (f"What sound does {A} make?", f"What does {A} say?"),
                                  f"Which sound does {A} make?", a.sound_en, sounds,
                                  lambda v, A=A: f"{cap(A)} {v}."))
        else:
            facts += [
                Fact("zh", (f"{a.zh}有几条腿?",), f"{a.zh}一共有多少条腿?", str(a.legs), legs,
                     lambda v, a=a: f"{a.zh}没有腿。" if v == "0" else f"{a.zh}有{v}条腿。"),
                Fact("zh", (f"{a.zh}生活在哪里?",), "", a.home_zh, homes,
                     lambda v, a=a: f"{a.zh}生活在{v}。"),
            ]
            if a.sound_zh:
                facts.append(Fact("zh", (f"{a.zh}怎么叫?", f"{a.zh}会发出什么声音?"),
                                  f"{a.zh}的叫声是哪一种?",
                                  a.sound_zh, sounds, lambda v, a=a: f"{a.zh}会{v}。"))
    return facts


def world_facts(world: World, lang: str) -> list[Fact]:
    """Every fact of the world in one language, in a fixed order."""
    facts: list[Fact] = []
    for p in world.people:
        facts += _person_en(world, p) if lang == "en" else _person_zh(world, p)
    for t in world.towns:
        facts += _town_en(world, t) if lang == "en" else _town_zh(world, t)
    return facts + _general(lang)
