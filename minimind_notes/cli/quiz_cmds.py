"""`minimind quiz`: a module's self-check in the terminal, scored and remembered."""

from __future__ import annotations

import string

import typer

from minimind_notes.cli.console import console
from minimind_notes.cli.shared import LANG_OPTION, seed_option, session, strings
from minimind_notes.errors import UsageError

t = strings("quiz")


def ask_choice(question, order: list[int], lang: str, scripted: str | None):
    """Show one question with its options in `order`; return the chosen original letters."""
    from rich.markup import escape
    from rich.panel import Panel

    from minimind_notes.curriculum.quiz import parse_answer
    from minimind_notes.i18n import pick

    shown = string.ascii_uppercase[: len(order)]
    to_original = {shown[i]: question.letters[j] for i, j in enumerate(order)}
    lines = [escape(pick(question.question, lang).strip()), ""]
    lines += [f"  [bold]{shown[i]}.[/] {escape(pick(question.options[j], lang).strip())}"
              for i, j in enumerate(order)]
    what = t(question.type, lang)
    console.print(Panel("\n".join(lines), subtitle=what, border_style="cyan"))
    while True:
        text = scripted if scripted is not None else console.input(f"[bold]{shown[0]}-{shown[-1]}>[/] ")
        chosen = parse_answer(text, question.type, shown)
        if chosen is not None:
            if scripted is not None:
                console.print(f"> {''.join(sorted(chosen))}")
            return frozenset(to_original[c] for c in chosen), {v: k for k, v in to_original.items()}
        if scripted is not None:
            raise UsageError(f"--answers: {text!r} is not a valid answer to question {question.id!r}",
                             hint=f"answer with {what} from {', '.join(shown)}")
        console.print(f"[yellow]{t('invalid', lang, what=what, letters=', '.join(shown))}[/]")


def ask_all(plan: list, scripted: list[str] | None, lang: str) -> list[str]:
    """Ask each (question, option order) in turn, say right or wrong; the ids of those missed."""
    from rich.markup import escape

    from minimind_notes.i18n import pick

    missed = []
    for i, (q, order) in enumerate(plan):
        console.print(f"[dim]{i + 1}/{len(plan)}[/]")
        chosen, shown_of = ask_choice(q, order, lang, scripted[i] if scripted else None)
        explanation = escape(pick(q.explanation, lang).strip())
        if q.is_correct(chosen):
            console.print(f"[green]✓ {t('right', lang)}[/] {explanation}\n")
        else:
            right = "".join(sorted(shown_of[c] for c in q.answer))
            console.print(f"[red]✗ {t('wrong', lang, answer=right)}[/] {explanation}\n")
            missed.append(q.id)
    return missed


def ask_open(question, lang: str) -> None:
    from rich.markdown import Markdown
    from rich.markup import escape
    from rich.panel import Panel
    from rich.syntax import Syntax

    from minimind_notes.i18n import pick

    console.print(Panel(f"{escape(pick(question.question, lang).strip())}\n\n[dim]{t('open_hint', lang)}[/]",
                        border_style="magenta", title=t("open", lang, kind=question.kind)))
    while console.input("... ").strip():
        pass
    reference = pick(question.reference, lang)
    # A code answer without Markdown fences is shown as code, not reflowed as prose.
    body = (Syntax(reference.strip(), "python") if question.kind == "code" and "```" not in reference
            else Markdown(reference))
    console.print(Panel(body, title=t("reference", lang), border_style="green"))


def quiz(
    module: str = typer.Argument("", help="Module name (default: the next unpassed quiz on your path)."),
    shuffle: bool = typer.Option(False, "--shuffle", help="Shuffle the questions and their options."),
    review: bool = typer.Option(False, "--review", help="Ask only what was missed last time."),
    answers: str | None = typer.Option(None, "--answers",
                                       help="Answer non-interactively: one answer per question, comma-separated "
                                            "(e.g. A,C,BD). Open questions are skipped."),
    open_questions: bool = typer.Option(True, "--open/--no-open", help="Ask the open questions at the end."),
    seed: int | None = seed_option(None, "Seed for --shuffle (reproducible order)."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Self-check: choice questions scored on the exact answer set, then open questions."""
    from rich.markup import escape

    from minimind_notes.curriculum.paths import next_quiz
    from minimind_notes.curriculum.quiz import (
        PASS_SHARE,
        asking_order,
        module_quiz,
        questions_to_ask,
        scripted_answers,
    )
    from minimind_notes.curriculum.resolve import find_module
    from minimind_notes.i18n import pick

    curriculum, progress, lang = session(lang)
    if module:
        mod = find_module(curriculum, module)
    else:
        path_name, mod = next_quiz(curriculum, progress)
        if mod is None:
            console.print(t("all_done", lang, path=path_name))
            return
    bank = module_quiz(curriculum, mod)
    questions = questions_to_ask(bank, progress, review)
    if review:
        if not questions:
            console.print(t("nothing", lang, module=mod.id))
            return
        console.print(t("review_of", lang, n=len(questions)))
    scripted = scripted_answers(answers, len(questions))

    console.rule(t("title", lang, module=pick(mod.title, lang), n=len(questions)))
    plan = asking_order(questions, shuffle, seed)
    try:
        missed = ask_all(plan, scripted, lang)
    except EOFError:
        console.print(f"\n[yellow]{t('no_input', lang)}[/]")
        raise typer.Exit(1) from None

    correct = len(questions) - len(missed)
    entry = progress.record_quiz(mod.id, correct, len(questions), missed, review, len(bank.questions))
    share = correct / len(questions)
    console.rule()
    console.print(f"[bold]{t('score', lang, c=correct, n=len(questions), share=share)}[/]")
    passed = entry["best"] >= PASS_SHARE
    console.print(f"[green]{t('passed', lang)}[/]" if passed else
                  f"[yellow]{t('not_passed', lang, module=mod.id)}[/]")
    sections = list(dict.fromkeys(pick(q.section, lang) for q, _ in plan if q.id in missed))
    if sections:
        console.print(t("revisit", lang, module=mod.id))
        for s in sections:
            console.print(f"  • {escape(s)}")
    if open_questions and scripted is None and not review and bank.open:
        try:
            for q in bank.open:
                ask_open(q, lang)
        except EOFError:
            pass
