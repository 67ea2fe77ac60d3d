"""English pretraining paragraphs: story arcs, profiles, towns, sums, animals, days, talks, seasons.

Each generator returns a list of sentences. Facts (jobs, towns, pets, ages...) always come from
the world, so a fact read in one story is never contradicted by another.
"""

from __future__ import annotations

from collections.abc import Callable

from minimind_notes.data.sample.arithmetic import EN_WORD, SYMBOL, draw
from minimind_notes.data.sample.context import Ctx
from minimind_notes.data.sample.grammar import an, cap, count_en, join_en, number_word
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

Sentences = list[str]
WALKED_PETS = ("dog", "pony")
RUNAWAY_PETS = ("cat", "dog", "rabbit", "duck", "hen", "hedgehog", "hamster")


def _thing(ctx: Ctx, names: tuple[str, ...] = SMALL_THINGS) -> Noun:
    name = ctx.rng.choice(names)
    return next(o for o in OBJECTS if o.en == name)


def _at(place: Place) -> str:
    return f"{place.prep} the {place.en}"


# --- story arc: a person goes somewhere, meets someone, a problem, its resolution ----------------------

def _opening(ctx: Ctx, hero: Person, place: Place, day: str, time: str) -> Sentences:
    h, job = hero.en, hero.job
    options = [
        [f"One {day} {time}, {h} went to the {place.en} in {hero.town.en}."],
        [f"On {day} {time}, {h} walked to the {place.en}."],
        [f"{h} lives in {hero.town.en}.", f"One {time}, {hero.he} went to the {place.en}."],
        [f"It was {day}, and {h} the {job.en} had a free {time}.", f"So {hero.he} went to the {place.en}."],
    ]
    if job.place != place:
        options.append([f"{h} finished {hero.his} work {_at(job.place)} and went to the {place.en}."])
    if hero.pet.en in WALKED_PETS:
        options.append([f"One {time}, {h} took {hero.his} {hero.pet.en} for a walk to the {place.en}."])
    return ctx.rng.choice(options)


def _meeting(ctx: Ctx, hero: Person, other: Person, place: Place) -> str:
    he, o = hero.he, other.en
    if hero.friend == o:
        return ctx.rng.choice([f"There {he} met {o}, {hero.his} best friend.",
                               f"{cap(_at(place))}, {he} saw {hero.his} best friend {o}."])
    return ctx.rng.choice([f"There {he} met {o}, {an(other.job.en)} from {other.town.en}.",
                           f"{cap(_at(place))}, {he} saw {o}, who works as {an(other.job.en)} "
                           f"in {other.town.en}.",
                           f"There {he} met {o}. {o} is {an(other.job.en)} and lives in {other.town.en}."])


def _greeting(ctx: Ctx, hero: Person, other: Person, time: str) -> Sentences:
    first = ctx.rng.choice([f'"Hello, {other.en}!" said {hero.en}.',
                            f'"Good {time}, {other.en}!" said {hero.en}.'])
    second = ctx.rng.choice([f'"Hello, {hero.en}! How are you?" said {other.en}.',
                             f'"Oh, hello, {hero.en}," said {other.en}.'])
    return [first, second]


def _lost_thing(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    thing, colour, spot = _thing(ctx), ctx.rng.choice(COLOURS), ctx.rng.choice(SPOTS)
    return [f"{other.en} looked sad. {cap(other.he)} had lost {other.his} {colour.en} {thing.en}.",
            f'"Can you help me find my {thing.en}?" asked {other.en}.',
            f"{hero.en} and {other.en} looked everywhere. At last, {hero.en} found the {thing.en} {spot.en}.",
            f"{other.en} was very happy."]


def _heavy_basket(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    food = ctx.rng.choice(FOODS)
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
    return [f"The wind blew {other.his} kite into a tall {hero.town.tree.en} tree.",
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
    pet, spot = other.pet.en, ctx.rng.choice(SPOTS)
    return [f"{other.en} was looking for {other.his} {other.pet_colour.en} {pet}, which had run away.",
            f"They looked along the {hero.town.river.en} and found the {pet} {spot.en}.",
            f"{other.en} picked it up and held it close."]


def _lost_way(ctx: Ctx, hero: Person, other: Person, place: Place, **_) -> Sentences:
    target = ctx.rng.choice([p for p in PLACES if p != place])
    return [f"{other.en} wanted to go to the {target.en} but did not know the way.",
            f'"Follow me," said {hero.en}. "The {target.en} is not far from the {place.en}."',
            f"They walked there together, and {other.en} thanked {hero.en}."]


def _share(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    food = ctx.rng.choice(FOODS)
    k, m = ctx.rng.randint(2, 5), ctx.rng.randint(1, 6)
    return [f"{other.en} had {count_en(k * m, food)} and wanted to share them with {number_word(k)} friends.",
            f"{hero.en} helped {other.him} count.",
            f"Each friend got {count_en(m, food)}, because {k * m} divided by {k} is {m}."]


def _broken(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    job = ctx.rng.choice(sorted(FIXERS))
    thing = _thing(ctx, FIXERS[job])
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
    return [f"{other.en} was late for work {_at(other.job.place)}.",
            f"{hero.en} walked with {other.him} quickly, and {other.en} arrived just in time.",
            f"{other.en} was glad to be on time."]


def _lonely(ctx: Ctx, hero: Person, other: Person, time: str = "day", **_) -> Sentences:
    return [f"{other.en} felt lonely, because {other.his} other friends were busy.",
            f"{hero.en} asked {other.him} to {hero.hobby.base} together.",
            f"They {hero.hobby.past} for the whole {time}, and {other.en} felt much better."]


def _birthday(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    thing, colour = _thing(ctx), ctx.rng.choice(COLOURS)
    return [f"It was {other.en}'s birthday, and {other.he} was now {other.age} years old.",
            f"{hero.en} gave {other.him} {an(colour.en)} {thing.en} as a present.",
            f'"Happy birthday, {other.en}!" said {hero.en}.']


def _paying(ctx: Ctx, hero: Person, other: Person, **_) -> Sentences:
    food = ctx.rng.choice(FOODS)
    n, p = ctx.pair("*", (2, 9), (1, 5))
    coins = "1 coin" if p == 1 else f"{p} coins"
    return [f"{other.en} wanted to buy {count_en(n, food)}, but did not know how much to pay.",
            f"One {food.en} cost {coins}.",
            f"{hero.en} helped {other.him}: {n} times {p} is {n * p}, so {other.he} paid {n * p} coins."]


PROBLEMS: tuple[Callable[..., Sentences], ...] = (
    _lost_thing, _heavy_basket, _sick_pet, _kite, _rain, _runaway_pet, _lost_way, _share, _broken, _late,
    _lonely, _birthday, _paying)


def _ending(ctx: Ctx, hero: Person, other: Person) -> Sentences:
    options = [f'"Thank you, {hero.en}!" said {other.en}. "You are very {hero.traits[0].en}."',
               f"{hero.en} smiled. {cap(hero.he)} was happy to help.",
               f"That evening, {hero.en} went home and told {hero.his} {hero.pet.en} about the day.",
               f"They said goodbye, and {hero.en} walked home along the {hero.town.river.en}.",
               "It was a good day for both of them.",
               f"The next day, {other.en} brought {hero.en} a basket of {other.town.food.pl} "
               f"from {other.town.en}."]
    return ctx.rng.sample(options, 2)


def story(ctx: Ctx) -> Sentences:
    rng = ctx.rng
    hero = ctx.person()
    other = ctx.other(hero)
    place, day, time = rng.choice(PLACES), rng.choice(DAYS).en, rng.choice(TIMES).en
    weather = rng.choice(WEATHERS)
    s = _opening(ctx, hero, place, day, time)
    s.append(rng.choice([weather.en, f"The day was {weather.adj}.", f"It was {an(weather.adj)} {time}."]))
    s.append(_meeting(ctx, hero, other, place))
    s += _greeting(ctx, hero, other, time)
    s += rng.choice(PROBLEMS)(ctx, hero, other, weather=weather, place=place, time=time)
    return s + _ending(ctx, hero, other)


# --- descriptions -----------------------------------------------------------------------------------

def profile(ctx: Ctx, p: Person | None = None) -> Sentences:
    rng, p = ctx.rng, p or ctx.person()
    f = ctx.world.friend(p)
    he, his, P = p.he, p.his, p.en
    s = [rng.choice([f"{P} lives in {p.town.en}.",
                     f"{P} is from {p.town.en}, {an(p.town.adjective.en)} town on the {p.town.river.en}.",
                     f"This is {P}. {cap(he)} lives in {p.town.en}."]),
         rng.choice([f"{P} is {an(p.job.en)}.", f"{P} works as {an(p.job.en)}."]),
         rng.choice([f"{cap(he)} works {_at(p.job.place)}, where {he} {p.job.does}.",
                     f"Every day, {he} {p.job.does} {_at(p.job.place)}."])]
    optional = [
        rng.choice([f"{cap(he)} has {an(p.pet_colour.en)} {p.pet.en}.",
                    f"{P} has a pet {p.pet.en}. It is {p.pet_colour.en}."]),
        rng.choice([f"{cap(his)} favourite colour is {p.colour.en}.",
                    f"{P} likes the colour {p.colour.en}."]),
        rng.choice([f"{cap(he)} likes to eat {p.food.pl}.", f"{P}'s favourite food is {p.food.pl}."]),
        rng.choice([f"{P} is {p.age} years old.", f"{cap(he)} is {p.age}."]),
        f"{P} is {p.traits[0].en} and {p.traits[1].en}.",
        rng.choice([f"{cap(his)} best friend is {f.en}, {an(f.job.en)} from {f.town.en}.",
                    f"{P} and {f.en} are best friends."]),
        rng.choice([f"In {his} free time, {he} likes {p.hobby.ing}.",
                    f"When {he} is not working, {he} likes to {p.hobby.base}."]),
    ]
    return s + [x for x in optional if rng.random() < 0.75]


def town(ctx: Ctx, t: Town | None = None) -> Sentences:
    rng = ctx.rng
    t = t or rng.choice(ctx.world.towns)
    people = ctx.world.residents(t)
    bridges = "is one bridge" if t.bridges == 1 else f"are {number_word(t.bridges)} bridges"
    s = [rng.choice([f"{t.en} is {an(t.adjective.en)} town on the {t.river.en}.",
                     f"The town of {t.en} lies on the {t.river.en}."]),
         rng.choice([f"There {bridges} over the river in {t.en}.",
                     f"{t.en} has {t.bridges} {'bridge' if t.bridges == 1 else 'bridges'}."]),
         rng.choice([f"{t.en} is famous for its {t.food.pl}.",
                     f"People come from far away to buy the {t.food.pl} of {t.en}."]),
         rng.choice([f"Market day in {t.en} is {t.market_day.en}.",
                     f"Every {t.market_day.en}, there is a market in the town square."]),
         f"Many {t.tree.en} trees grow along the streets.",
         f"{join_en([p.en for p in people])} live in {t.en}."]
    for p in rng.sample(people, 2):
        s.append(rng.choice([f"{p.en} is {an(p.job.en)} there.", f"{p.en} works {_at(p.job.place)}."]))
    return s


def _arith_line(ctx: Ctx) -> Sentences:
    rng, p = ctx.rng, ctx.person()
    f, he = ctx.world.friend(p), p.he
    food = rng.choice(FOODS)
    kind = rng.randrange(9)
    if kind == 0:
        s = draw(rng, "+", ctx.reserved, 20, low=1)
        return [f"{p.en} had {count_en(s.a, food)}.",
                f"{cap(he)} bought {s.b} more at the market, so now {he} had {count_en(s.value, food)}."]
    if kind == 1:
        s = draw(rng, "-", ctx.reserved, 20, low=1)
        return [f"{p.en} had {count_en(s.a, food)}.",
                f"{cap(he)} gave {s.b} to {f.en}, so {he} had {s.value} left."]
    if kind == 2:
        s = draw(rng, "*", ctx.reserved, low=2)
        basket = next(o for o in OBJECTS if o.en == "basket")
        return [f"{p.en} has {count_en(s.a, basket)}.",
                f"There are {count_en(s.b, food)} in each basket, so there are {s.value} {food.pl} in all."]
    if kind == 3:
        n, price = ctx.pair("*", (1, 9), (1, 9))
        coins = "1 coin" if price == 1 else f"{price} coins"
        paid = "1 coin" if n * price == 1 else f"{n * price} coins"
        return [f"One {food.en} costs {coins}.", f"{p.en} bought {count_en(n, food)} and paid {paid}."]
    if kind == 4:
        beast = rng.choice([a for a in ANIMALS if a.legs > 0])
        n = ctx.pair("*", (2, 9), (beast.legs, beast.legs))[0]
        return [f"There are {count_en(n, beast)} on the farm.",
                f"Each {beast.en} has {beast.legs} legs, so together they have {n * beast.legs} legs."]
    if kind == 5:
        fruit = rng.choice(FRUITS)
        s = draw(rng, "+", ctx.reserved, 30, low=1)
        return [f"{p.en} picked {count_en(s.a, fruit)} and {f.en} picked {count_en(s.b, fruit)}.",
                f"Together they picked {count_en(s.value, fruit)}."]
    if kind == 6:
        k = ctx.pair("+", (p.age, p.age), (1, 10))[1]
        years = "1 year" if k == 1 else f"{k} years"
        return [f"{p.en} is {p.age} years old.", f"In {years}, {he} will be {p.age + k}."]
    if kind == 7:
        if p.age == f.age:
            return [f"{p.en} and {f.en} are both {p.age} years old.", "They are the same age."]
        old, young = (p, f) if p.age > f.age else (f, p)
        return [f"{p.en} is {p.age} and {f.en} is {f.age}.",
                f"{old.en} is {old.age - young.age} {'year' if old.age - young.age == 1 else 'years'} older "
                f"than {young.en}."]
    s = draw(rng, "-", ctx.reserved, 20, low=1)
    return [f"There were {count_en(s.a, food)} on the table.",
            f"{p.en} ate {s.b}, so there {'was' if s.value == 1 else 'were'} {s.value} left."]


def arithmetic_story(ctx: Ctx) -> Sentences:
    s: Sentences = []
    for _ in range(ctx.rng.randint(2, 4)):
        s += _arith_line(ctx)
    return s


def math_facts(ctx: Ctx) -> Sentences:
    rng = ctx.rng
    s = [rng.choice(["Here are some sums.", "Let us practise some sums.", "Numbers are fun."])]
    for _ in range(rng.randint(4, 9)):
        kind = rng.randrange(8)
        n = rng.randint(1, 50)
        if kind < 3:
            x = draw(rng, "+-*"[kind], ctx.reserved)
            s.append(rng.choice([f"{x.a} {EN_WORD[x.op]} {x.b} is {x.value}.",
                                 f"{x.a} {SYMBOL[x.op]} {x.b} = {x.value}."]))
        elif kind == 3:
            a, b = sorted(rng.sample(range(101), 2))
            s.append(f"{b} is bigger than {a}.")
        elif kind == 4:
            s.append(f"{n} is an {'even' if n % 2 == 0 else 'odd'} number.")
        elif kind == 5:
            s.append(rng.choice([f"Double {n} is {2 * n}.", f"Half of {2 * n} is {n}."]))
        elif kind == 6:
            s.append(rng.choice([f"Ten more than {n} is {n + 10}.", f"The number after {n} is {n + 1}.",
                                 f"The number before {n} is {n - 1}."]))
        else:
            k = rng.randint(2, 10)
            s.append(f"Counting by {k}s: {', '.join(str(k * i) for i in range(1, 6))}.")
    return s


def animals(ctx: Ctx) -> Sentences:
    rng = ctx.rng
    s = [rng.choice(["Let us learn about animals.", "There are many animals in the world."])]
    for a in rng.sample(list(ANIMALS), rng.randint(3, 5)):
        lines = [f"{cap(an(a.en))} has {a.legs} legs." if a.legs else f"{cap(an(a.en))} has no legs.",
                 f"{cap(a.pl)} live {a.home_en}.", f"{cap(a.pl)} can {a.can_en}."]
        if a.sound_en:
            lines.append(f"{cap(an(a.en))} {a.sound_en}.")
        s += rng.sample(lines, rng.randint(2, len(lines)))
    return s


def routine(ctx: Ctx) -> Sentences:
    rng, p = ctx.rng, ctx.person()
    he, his = p.he, p.his
    s = [rng.choice([f"Every morning, {p.en} wakes up early and has {rng.choice(MEALS).en} for breakfast.",
                     f"{p.en} gets up early and drinks a cup of {rng.choice(DRINKS).en}."]),
         f"Then {he} goes to the {p.job.place.en}, where {he} {p.job.does}.",
         rng.choice([f"At noon, {he} eats lunch with {ctx.world.friend(p).en}.",
                     f"At noon, {he} has some {rng.choice(MEALS).en} for lunch."]),
         f"In the afternoon, {he} looks after {his} {p.pet.en}.",
         f"In the evening, {he} likes {p.hobby.ing}.",
         "At night, " + he + " reads a book and goes to sleep."]
    if rng.random() < 0.6:
        s.append(f"On {p.town.market_day.en}s, {he} goes to the market in {p.town.en} to buy {p.food.pl}.")
    return s


def dialogue(ctx: Ctx) -> Sentences:
    rng, a = ctx.rng, ctx.person()
    b = ctx.other(a, 0.2)
    place = rng.choice(PLACES)
    pairs = [
        ([f'"Hello, {b.en}! Where do you live?" asked {a.en}.'],
         [f'"I live in {b.town.en}, on the {b.town.river.en}," said {b.en}.']),
        ([f'"What do you do?" asked {a.en}.'],
         [f'"I am {an(b.job.en)}. I {b.job.do} {_at(b.job.place)}," said {b.en}.']),
        ([f'"Do you have a pet?" asked {a.en}.'],
         [f'"Yes, I have {an(b.pet_colour.en)} {b.pet.en}," said {b.en}.']),
        ([f'"What is your favourite food?" asked {a.en}.'], [f'"I love {b.food.pl}!" said {b.en}.']),
        ([f'"How old are you?" asked {a.en}.'], [f'"I am {b.age} years old," said {b.en}.']),
        ([f'"Who is your best friend?" asked {a.en}.'], [f'"My best friend is {b.friend}," said {b.en}.']),
    ]
    s = [f"One day, {a.en} met {b.en} {_at(place)}."]
    for q, r in rng.sample(pairs, rng.randint(2, 4)):
        s += q + r
    return s + [rng.choice([f'"It was nice to talk to you," said {a.en}.', "Then they said goodbye."])]


def season(ctx: Ctx) -> Sentences:
    rng = ctx.rng
    t = rng.choice(ctx.world.towns)
    name, facts = rng.choice(SEASONS)
    p = rng.choice(ctx.world.residents(t))
    s = [rng.choice([f"It is {name.en} in {t.en}.", f"{cap(name.en)} has come to {t.en}."])]
    s += [f"In {name.en}, {fact}." for fact, _ in rng.sample(list(facts), rng.randint(2, 3))]
    s.append(f"The {t.tree.en} trees along the {t.river.en} move in the wind.")
    s.append(f"{p.en} likes {name.en}, because {p.he} can {p.hobby.base}.")
    return s


PARAGRAPHS: tuple[tuple[Callable[[Ctx], Sentences], int], ...] = (
    (story, 6), (profile, 3), (town, 1), (arithmetic_story, 2), (math_facts, 1), (animals, 1),
    (routine, 1), (dialogue, 2), (season, 1))
