"""English descriptive paragraphs: profiles, towns, sums in stories, number facts, animals, days,
conversations and seasons. Facts always come from the world, so they never contradict each other.
"""

from __future__ import annotations

from minimind_notes.data.phrasing import EN_WORD, SYMBOL
from tools.corpus.arithmetic import draw
from tools.corpus.context import Ctx
from tools.corpus.grammar import an, at, cap, count_en, join_en, number_word
from tools.corpus.story_en import Sentences
from tools.corpus.words import (
    ANIMALS,
    DRINKS,
    FOODS,
    FRUITS,
    MEALS,
    OBJECTS,
    PLACES,
    SEASONS,
)
from tools.corpus.world import Person, Town


def profile(ctx: Ctx, p: Person | None = None) -> Sentences:
    rng, p = ctx.rng, p or ctx.person()
    f = ctx.world.friend(p)
    he, his, P = p.he, p.his, p.en
    s = [rng.choice([f"{P} lives in {p.town.en}.",
                     f"{P} is from {p.town.en}, {an(p.town.adjective.en)} town on the {p.town.river.en}.",
                     f"This is {P}. {cap(he)} lives in {p.town.en}."]),
         rng.choice([f"{P} is {an(p.job.en)}.", f"{P} works as {an(p.job.en)}."]),
         rng.choice([f"{cap(he)} works {at(p.job.place)}, where {he} {p.job.does}.",
                     f"Every day, {he} {p.job.does} {at(p.job.place)}."])]
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
    t = t or ctx.town()
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
        s.append(rng.choice([f"{p.en} is {an(p.job.en)} there.", f"{p.en} works {at(p.job.place)}."]))
    return s


def _arith_line(ctx: Ctx) -> Sentences:
    rng, p = ctx.rng, ctx.person()
    f, he = ctx.world.friend(p), p.he
    food = ctx.pick(FOODS)
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
        fruit = ctx.pick(FRUITS)
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
        lines = _arith_line(ctx)
        if lines[0] not in s:  # the cast recurs: do not state the same fact twice
            s += lines
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
    for a in ctx.pick_some(ANIMALS, rng.randint(3, 5)):
        lines = [f"{cap(an(a.en))} has {a.legs} legs." if a.legs else f"{cap(an(a.en))} has no legs.",
                 f"{cap(a.pl)} live {a.home_en}.", f"{cap(a.pl)} can {a.can_en}."]
        if a.sound_en:
            lines.append(f"{cap(an(a.en))} {a.sound_en}.")
        s += rng.sample(lines, rng.randint(2, len(lines)))
    return s


def routine(ctx: Ctx) -> Sentences:
    rng, p = ctx.rng, ctx.person()
    he, his = p.he, p.his
    s = [rng.choice([f"Every morning, {p.en} wakes up early and has {ctx.pick(MEALS).en} for breakfast.",
                     f"{p.en} gets up early and drinks a cup of {ctx.pick(DRINKS).en}."]),
         f"Then {he} goes to the {p.job.place.en}, where {he} {p.job.does}.",
         rng.choice([f"At noon, {he} eats lunch with {ctx.world.friend(p).en}.",
                     f"At noon, {he} has some {ctx.pick(MEALS).en} for lunch."]),
         f"In the afternoon, {he} looks after {his} {p.pet.en}.",
         f"In the evening, {he} likes {p.hobby.ing}.",
         "At night, " + he + " reads a book and goes to sleep."]
    if rng.random() < 0.6:
        s.append(f"On {p.town.market_day.en}s, {he} goes to the market in {p.town.en} to buy {p.food.pl}.")
    return s


def dialogue(ctx: Ctx) -> Sentences:
    rng, a = ctx.rng, ctx.person()
    b = ctx.other(a, 0.0, use_cast=False)
    place = ctx.pick(PLACES)
    pairs = [
        ([f'"Where do you live?" asked {a.en}.'],
         [f'"I live in {b.town.en}, on the {b.town.river.en}," said {b.en}.']),
        ([f'"What do you do?" asked {a.en}.'],
         [f'"I am {an(b.job.en)}. I {b.job.do} {at(b.job.place)}," said {b.en}.']),
        ([f'"Do you have a pet?" asked {a.en}.'],
         [f'"Yes, I have {an(b.pet_colour.en)} {b.pet.en}," said {b.en}.']),
        ([f'"What is your favourite food?" asked {a.en}.'], [f'"I love {b.food.pl}!" said {b.en}.']),
        ([f'"How old are you?" asked {a.en}.'], [f'"I am {b.age} years old," said {b.en}.']),
        ([f'"Who is your best friend?" asked {a.en}.'], [f'"My best friend is {b.friend}," said {b.en}.']),
    ]
    s = [f"One day, {a.en} met {b.en} {at(place)}.", f'"Hello, {b.en}!" said {a.en}.']
    for q, r in rng.sample(pairs, rng.randint(2, 4)):
        s += q + r
    return s + [rng.choice([f'"It was nice to talk to you," said {a.en}.', "Then they said goodbye."])]


def season(ctx: Ctx) -> Sentences:
    rng = ctx.rng
    t = ctx.town()
    name, facts = rng.choice(SEASONS)
    p = ctx.cast[0] if ctx.cast and ctx.cast[0].town == t else rng.choice(ctx.world.residents(t))
    s = [rng.choice([f"It is {name.en} in {t.en}.", f"{cap(name.en)} has come to {t.en}."])]
    s += [f"In {name.en}, {fact}." for fact, _ in rng.sample(list(facts), rng.randint(2, 3))]
    s.append(f"The {t.tree.en} trees along the {t.river.en} move in the wind.")
    s.append(f"{p.en} likes {name.en}, because {p.he} can {p.hobby.base}.")
    return s
