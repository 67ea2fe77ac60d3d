"""The invented world: 16 towns on 16 rivers and 64 people, each with fixed facts.

`build_world(seed)` draws the facts once (who lives where, works as what, keeps which pet...);
every generator then only *reads* them, so the corpus never contradicts itself and questions
about the world have one right answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tools.corpus.words import (
    ACTIVITIES,
    ANIMALS,
    COLOURS,
    DAYS,
    FOODS,
    JOBS,
    PET_NAMES,
    TOWN_ADJECTIVES,
    TRAITS,
    TREES,
    Activity,
    Animal,
    Job,
    Noun,
    Word,
)

FEMALE_NAMES: tuple[tuple[str, str], ...] = (
    ("Mia", "米娅"), ("Lily", "莉莉"), ("Anna", "安娜"), ("Emma", "艾玛"), ("Lucy", "露西"), ("Sara", "莎拉"),
    ("Nora", "诺拉"), ("Ella", "艾拉"), ("Ruby", "露比"), ("Grace", "格蕾丝"), ("Alice", "爱丽丝"),
    ("Chloe", "克洛伊"), ("Zoe", "佐伊"), ("Ivy", "艾薇"), ("Rose", "罗丝"), ("Hannah", "汉娜"),
    ("Julia", "朱莉娅"), ("Clara", "克拉拉"), ("Molly", "莫莉"), ("Daisy", "黛西"), ("Amy", "艾米"),
    ("Kate", "凯特"), ("Lena", "莉娜"), ("Maya", "玛雅"), ("Olivia", "奥利维娅"), ("Sophie", "苏菲"),
    ("Fiona", "菲奥娜"), ("Helen", "海伦"), ("Jenny", "珍妮"), ("Linda", "琳达"), ("Paula", "葆拉"),
    ("Wendy", "温迪"),
)
MALE_NAMES: tuple[tuple[str, str], ...] = (
    ("Tom", "汤姆"), ("Ben", "本"), ("Sam", "山姆"), ("Leo", "利奥"), ("Max", "马克斯"), ("Jack", "杰克"),
    ("Noah", "诺亚"), ("Owen", "欧文"), ("Finn", "芬恩"), ("Luke", "卢克"), ("Adam", "亚当"),
    ("Oscar", "奥斯卡"), ("Henry", "亨利"), ("Peter", "彼得"), ("Paul", "保罗"), ("Hugo", "雨果"),
    ("Felix", "菲利克斯"), ("Oliver", "奥利弗"), ("Harry", "哈利"), ("David", "大卫"), ("Eric", "埃里克"),
    ("Ivan", "伊万"), ("Kevin", "凯文"), ("Mark", "马克"), ("Nick", "尼克"), ("Ryan", "瑞安"),
    ("Simon", "西蒙"), ("Victor", "维克多"), ("Alan", "艾伦"), ("Dan", "丹"), ("Carl", "卡尔"),
    ("Frank", "弗兰克"),
)
TOWN_NAMES: tuple[tuple[str, str], ...] = (
    ("Willowby", "柳溪镇"), ("Stonebridge", "石桥镇"), ("Maplefield", "枫田镇"), ("Brookhaven", "溪港镇"),
    ("Pinecrest", "松岭镇"), ("Ashford", "灰渡镇"), ("Oakvale", "橡谷镇"), ("Clearwater", "清水镇"),
    ("Redhill", "红山镇"), ("Foxley", "狐林镇"), ("Millbrook", "磨溪镇"), ("Sunmere", "日湖镇"),
    ("Elmstead", "榆庄镇"), ("Greenport", "绿港镇"), ("Rosewood", "玫瑰镇"), ("Bellwater", "铃水镇"),
)
RIVER_NAMES: tuple[tuple[str, str], ...] = (
    ("Silver River", "银水河"), ("Blue River", "蓝河"), ("Quiet River", "静河"), ("Swift River", "急流河"),
    ("Reed River", "芦苇河"), ("Amber River", "琥珀河"), ("Moon River", "月亮河"), ("Cloud River", "云河"),
    ("Jade River", "玉河"), ("Fern River", "蕨河"), ("Otter River", "水獭河"), ("Lark River", "云雀河"),
    ("Cedar River", "雪松河"), ("Mist River", "雾河"), ("Crane River", "鹤河"), ("Echo River", "回声河"),
)


@dataclass(frozen=True)
class Town:
    en: str
    zh: str
    river: Word
    food: Noun  # the town is famous for it
    market_day: Word
    bridges: int
    tree: Word
    adjective: Word


@dataclass(frozen=True)
class Person:
    en: str
    zh: str
    female: bool
    town: Town
    job: Job
    pet: Animal
    pet_colour: Word
    food: Noun  # favourite food
    colour: Word  # favourite colour
    age: int
    traits: tuple[Word, Word]
    hobby: Activity
    friend: str  # English name of the best friend (friendship is mutual)

    @property
    def he(self) -> str:
        return "she" if self.female else "he"

    @property
    def him(self) -> str:
        return "her" if self.female else "him"

    @property
    def his(self) -> str:
        return "her" if self.female else "his"

    @property
    def ta(self) -> str:
        return "她" if self.female else "他"


@dataclass(frozen=True)
class World:
    towns: tuple[Town, ...]
    people: tuple[Person, ...]

    def person(self, name: str) -> Person:
        for p in self.people:
            if p.en == name:
                return p
        raise KeyError(name)

    def friend(self, person: Person) -> Person:
        return self.person(person.friend)

    def residents(self, town: Town) -> list[Person]:
        return [p for p in self.people if p.town == town]

    def with_job(self, job_en: str) -> list[Person]:
        return [p for p in self.people if p.job.en == job_en]


# Natural colours for each kind of pet (no green dogs).
PET_COLOURS = {"cat": ("white", "black", "grey", "orange", "brown"),
               "dog": ("white", "black", "brown", "grey"),
               "rabbit": ("white", "brown", "grey", "black"), "duck": ("white", "yellow", "brown"),
               "hen": ("brown", "white", "black", "red"), "goldfish": ("gold", "orange", "red"),
               "turtle": ("green", "brown"), "parrot": ("green", "blue", "red", "yellow"),
               "hedgehog": ("brown", "grey"), "hamster": ("brown", "white", "gold", "grey"),
               "pony": ("white", "black", "brown", "grey"), "canary": ("yellow", "gold", "white")}


def animal(name: str) -> Animal:
    return next(a for a in ANIMALS if a.en == name)


def colour(name: str) -> Word:
    return next(c for c in COLOURS if c.en == name)


def build_world(seed: int) -> World:
    """Draw every fixed fact of the world from `seed` (same seed, same world)."""
    rng = random.Random(seed)
    rivers = [Word(en, zh) for en, zh in RIVER_NAMES]
    rng.shuffle(rivers)
    famous = rng.sample(list(FOODS), len(TOWN_NAMES))
    towns = tuple(
        Town(en, zh, rivers[i], famous[i], DAYS[rng.randrange(len(DAYS))], rng.randint(1, 6),
             rng.choice(TREES), rng.choice(TOWN_ADJECTIVES))
        for i, (en, zh) in enumerate(TOWN_NAMES))

    names = [(en, zh, True) for en, zh in FEMALE_NAMES] + [(en, zh, False) for en, zh in MALE_NAMES]
    rng.shuffle(names)
    jobs = list(JOBS) * 2
    rng.shuffle(jobs)
    order = list(range(len(names)))  # pair neighbours of a shuffled order as best friends
    rng.shuffle(order)
    friend_of = {}
    for i in range(0, len(order), 2):
        a, b = names[order[i]][0], names[order[i + 1]][0]
        friend_of[a], friend_of[b] = b, a
    pets = [animal(n) for n in PET_NAMES]
    people = []
    for i, (en, zh, female) in enumerate(names):
        traits = rng.sample(list(TRAITS), 2)
        pet = rng.choice(pets)
        people.append(Person(
            en=en, zh=zh, female=female, town=towns[i % len(towns)], job=jobs[i], pet=pet,
            pet_colour=colour(rng.choice(PET_COLOURS[pet.en])), food=rng.choice(FOODS),
            colour=rng.choice(COLOURS),
            age=rng.randint(18, 70), traits=(traits[0], traits[1]), hobby=rng.choice(ACTIVITIES),
            friend=friend_of[en]))
    return World(towns, tuple(people))
