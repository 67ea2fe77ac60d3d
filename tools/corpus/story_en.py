"""English story arcs: someone goes somewhere, meets someone, there is a problem, it is solved.

Thirteen problems (a lost thing, a runaway pet, a broken chair...) each with its resolution;
helpers come from the world (the vet of a town, the carpenter who mends chairs).
"""

from __future__ import annotations

from collections.abc import Callable

from tools.corpus.context import Ctx
from tools.corpus.grammar import an, at, cap, count_en, number_word
from tools.corpus.words import (
    COLOURS,
    DAYS,
    FIXERS,
    FOODS,
    OBJECTS,
    PLACES,
    SMALL_THINGS,
    SPOTS,
    TIMES,
    WEATHERS,
    Noun,
    Place,
    Weather,
)
from tools.corpus.world import Person

Sentences = list[str]
WALKED_PETS = ("dog", "pony")
RUNAWAY_PETS = ("cat", "dog", "rabbit", "duck", "hen", "hedgehog", "hamster")


def small_thing(ctx: Ctx, names: tuple[str, ...] = SMALL_THINGS) -> Noun:
    """A random carryable object (or one of `names`)."""
    name = ctx.pick(names)
    return next(o for o in OBJECTS if o.en == name)


def _opening(ctx: Ctx, hero: Person, place: Place, day: str, time: str) -> Sentences:
    h, job = hero.en, hero.job
    options = [
        [f"One {day} {time}, {h} went to the {place.en} in {hero.town.en}."],
        [f"On {day} {time}, {h} walked to the {place.en}."],
        [f"{h} lives in {hero.town.en}.", f"One {time}, {hero.he} went to the {place.en}."],
        [f"It was {day}, and {h} the {job.en} had a free {time}.", f"So {hero.he} went to the {place.en}."],
    ]
    if job.place != place:
        options.append([f"{h} finished {hero.his} work {at(job.place)} and went to the {place.en}."])
    if hero.pet.en in WALKED_PETS:
        options.append([f"One {time}, {h} took {hero.his} {hero.pet.en} for a walk to the {place.en}."])
    return ctx.rng.choice(options)


def _meeting(ctx: Ctx, hero: Person, other: Person, place: Place) -> str:
    he, o = hero.he, other.en
    if hero.friend == o:
        return ctx.rng.choice([f"There {he} met {o}, {hero.his} best friend.",
                               f"{cap(at(place))}, {he} saw {hero.his} best friend {o}."])
    return ctx.rng.choice([f"There {he} met {o}, {an(other.job.en)} from {other.town.en}.",
                           f"{cap(at(place))}, {he} saw {o}, who works as {an(other.job.en)} "
                           f"in {other.town.en}.",
                           f"There {he} met {o}. {o} is {an(other.job.en)} and lives in {other.town.en}."])


def _greeting(ctx: Ctx, hero: Person, other: Person, time: str) -> Sentences:
    first = ctx.rng.choice([f'"Hello, {other.en}!" said {hero.en}.',
                            f'"Good {time}, {other.en}!" said {hero.en}.'])
    second = ctx.rng.choice([f'"Hello, {hero.en}! How are you?" said {other.en}.',
                             f'"Oh, hello, {hero.en}," said {other.en}.'])
    return [first, second]


def _lost_thing(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    thing, colour, spot = small_thing(ctx), ctx.pick(COLOURS), ctx.pick(SPOTS)
    return [f"{other.en} looked sad. {cap(other.he)} had lost {other.his} {colour.en} {thing.en}.",
            f'"Can you help me find my {thing.en}?" asked {other.en}.',
            f"{hero.en} and {other.en} looked everywhere. At last, {hero.en} found the {thing.en} {spot.en}.",
            f"{other.en} was very happy."]


def _heavy_basket(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    food = ctx.pick(FOODS)
    n, k = ctx.pair("-", (6, 20), (1, 4))
    return [f"{other.en} was carrying a heavy basket with {count_en(n, food)} in it.",
            f"{hero.en} helped {other.him} carry the basket home.",
            f"To say thank you, {other.en} gave {hero.en} {count_en(k, food)}.",
            f"Now {other.en} had {count_en(n - k, food)} left, because {n} minus {k} is {n - k}."]


def _sick_pet(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    pet = other.pet.en
    s = [f"{other.en} was worried, because {other.his} {pet} had not eaten all day."]
    if hero.job.en == "vet":
        s.append(f"{hero.en} is a vet, so {hero.he} looked at the {pet} carefully and gave it some medicine.")
    else:
        vet = ctx.rng.choice(ctx.world.with_job("vet"))
        s += [f"{hero.en} took the {pet} to {vet.en}, the vet in {vet.town.en}.",
              f"{vet.en} gave the {pet} some medicine."]
    return s + [f"Soon the {pet} was hungry again, and {other.en} smiled."]


def _kite(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    return [f"The wind blew {other.en}'s kite into a tall {hero.town.tree.en} tree.",
            f"{hero.en} found a ladder, climbed up and brought the kite down.",
            f"{other.en} flew the kite again, and it went high into the sky."]


def _rain(ctx: Ctx, hero: Person, other: Person, weather: Weather, **kw) -> Sentences:
    if weather.key != "cloudy":
        return _lost_thing(ctx, hero, other)
    return [f"Then it started to rain, and {other.en} had no umbrella.",
            f"{hero.en} opened {hero.his} {hero.colour.en} umbrella, and they walked home together under it.",
            "By the time they got home, the rain had stopped."]


def _runaway_pet(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    if other.pet.en not in RUNAWAY_PETS:
        return _kite(ctx, hero, other)
    pet, spot = other.pet.en, ctx.pick(SPOTS)
    return [f"{other.en} was looking for {other.his} {other.pet_colour.en} {pet}, which had run away.",
            f"They looked along the {hero.town.river.en} and found the {pet} {spot.en}.",
            f"{other.en} picked it up and held it close."]


def _lost_way(ctx: Ctx, hero: Person, other: Person, place: Place, **_) -> Sentences:
    target = ctx.pick([p for p in PLACES if p != place])
    return [f"{other.en} wanted to go to the {target.en} but did not know the way.",
            f'"Follow me," said {hero.en}. "The {target.en} is not far from the {place.en}."',
            f"They walked there together, and {other.en} thanked {hero.en}."]


def _share(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    food = ctx.pick(FOODS)
    k, m = ctx.rng.randint(2, 5), ctx.rng.randint(1, 6)
    return [f"{other.en} had {count_en(k * m, food)} and wanted to share them with {number_word(k)} friends.",
            f"{hero.en} helped {other.him} count.",
            f"Each friend got {count_en(m, food)}, because {k * m} divided by {k} is {m}."]


def _broken(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    job = ctx.rng.choice(sorted(FIXERS))
    thing = small_thing(ctx, FIXERS[job])
    s = [f"{other.en}'s {thing.en} was broken."]
    if hero.job.en == job:
        return s + [f"{hero.en} is {an(job)}, so {hero.he} fixed it right away."]
    if other.job.en == job:
        return s + [f"{other.en} is {an(job)}, so {other.he} fixed it {other.him}self."]
    fixers = [p for p in ctx.world.with_job(job) if p != other]
    fixer = ctx.rng.choice(fixers)
    return s + [f'{hero.en} said, "Take it to {fixer.en}, the {job} in {fixer.town.en}."',
                f"{fixer.en} fixed the {thing.en} in a short time."]


def _late(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    return [f"{other.en} was late for work {at(other.job.place)}.",
            f"{hero.en} walked with {other.him} quickly, and {other.en} arrived just in time.",
            f"{other.en} was glad to be on time."]


def _lonely(ctx: Ctx, hero: Person, other: Person, time: str = "day", **_) -> Sentences:
    return [f"{other.en} felt lonely, because {other.his} other friends were busy.",
            f"{hero.en} asked {other.him} to {hero.hobby.base} together.",
            f"They {hero.hobby.past} for the whole {time}, and {other.en} felt much better."]


def _birthday(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    thing, colour = small_thing(ctx), ctx.pick(COLOURS)
    return [f"It was {other.en}'s birthday, and {other.he} was now {other.age} years old.",
            f"{hero.en} gave {other.him} {an(colour.en)} {thing.en} as a present.",
            f'"Happy birthday, {other.en}!" said {hero.en}.']


def _paying(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    food = ctx.pick(FOODS)
    n, p = ctx.pair("*", (2, 9), (1, 5))
    coins = "1 coin" if p == 1 else f"{p} coins"
    return [f"{other.en} wanted to buy {count_en(n, food)}, but did not know how much to pay.",
            f"One {food.en} cost {coins}.",
            f"{hero.en} helped {other.him}: {n} times {p} is {n * p}, so {other.he} paid {n * p} coins."]


PROBLEMS: tuple[Callable[..., Sentences], ...] = (
    _lost_thing, _heavy_basket, _sick_pet, _kite, _rain, _runaway_pet, _lost_way, _share, _broken, _late,
    _lonely, _birthday, _paying)


def _ending(ctx: Ctx, hero: Person, other: Person) -> Sentences:
    """Two closing sentences, kept in story order (thanks before goodbye before the next day)."""
    options = [f'"Thank you, {hero.en}!" said {other.en}. "You are very {hero.traits[0].en}."',
               f"{hero.en} smiled. {cap(hero.he)} was happy to help.",
               "It was a good day for both of them.",
               f"They said goodbye, and {hero.en} walked home along the {hero.town.river.en}.",
               f"That evening, {hero.en} told {hero.his} {hero.pet.en} about the day.",
               f"The next day, {other.en} brought {hero.en} a basket of {other.town.food.pl} "
               f"from {other.town.en}."]
    return [options[i] for i in sorted(ctx.rng.sample(range(len(options)), 2))]


def story(ctx: Ctx) -> Sentences:
    rng = ctx.rng
    hero = ctx.person()
    other = ctx.other(hero)
    place, day, time = ctx.pick(PLACES), rng.choice(DAYS).en, rng.choice(TIMES).en
    weather = rng.choice(WEATHERS)
    s = _opening(ctx, hero, place, day, time)
    s.append(rng.choice([weather.en, f"The day was {weather.adj}.", f"It was {an(weather.adj)} {time}."]))
    s.append(_meeting(ctx, hero, other, place))
    s += _greeting(ctx, hero, other, time)
    s += rng.choice(PROBLEMS)(ctx, hero, other, weather=weather, place=place, time=time)
    return s + _ending(ctx, hero, other)
