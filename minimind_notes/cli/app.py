"""The `minimind` command: the one place that registers every command. Each command module only
defines its functions (and its sub-groups); each imports torch, matplotlib and the model only when
it runs, so `minimind --help` answers at once."""

from __future__ import annotations

import typer

from minimind_notes import __version__
from minimind_notes.cli import (
    bench_cmds,
    chat_cmds,
    data_cmds,
    doctor,
    eval_cmds,
    exercise_cmds,
    learn_cmds,
    model_cmds,
    notes_cmds,
    progress_cmds,
    quiz_cmds,
    serve_cmds,
    tokenizer_cmds,
    train_cmds,
)
from minimind_notes.cli.shared import MiniMindGroup

app = typer.Typer(
    name="minimind", cls=MiniMindGroup, no_args_is_help=True, add_completion=False,
    rich_markup_mode="rich", pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command and sub-group
    help="Learn how a modern LLM is built by measuring it, then train MiniMind from scratch.",
)


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"minimind-notes {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """Learn how a modern LLM is built by measuring it, then train MiniMind from scratch."""


# Learning: the curriculum, its quizzes, the learner's progress and notes.
app.command("list")(learn_cmds.list_cmd)
app.command()(learn_cmds.run)
app.command()(learn_cmds.path)
app.command()(learn_cmds.learn)
app.command()(quiz_cmds.quiz)
app.add_typer(exercise_cmds.exercise_app, name="exercise")
app.add_typer(progress_cmds.progress_app, name="progress")
app.add_typer(notes_cmds.notes_app, name="notes")
app.command()(doctor.doctor)
# The model, data and training pipeline.
app.command()(model_cmds.demo)
app.add_typer(tokenizer_cmds.tokenizer_app, name="tokenizer")
app.add_typer(data_cmds.data_app, name="data")
app.command(cls=train_cmds.TrainCommand)(train_cmds.train)
app.command()(chat_cmds.chat)
app.command()(serve_cmds.serve)
app.add_typer(eval_cmds.eval_app, name="eval")
app.command()(eval_cmds.plot)
app.command()(model_cmds.export)
app.add_typer(bench_cmds.bench_app, name="bench")


def main() -> None:
    app()
