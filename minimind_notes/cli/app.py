"""The `minimind` command. Each command imports torch, matplotlib and the model only
when it runs, so `minimind --help` answers at once."""

from __future__ import annotations

import os
import sys

import typer
from typer.core import TyperGroup

from minimind_notes import __version__
from minimind_notes.errors import MiniMindError

# click's base exception (usage errors and the like): from click, or from the copy typer >= 0.2x ships
CLICK_ERROR = sys.modules[typer.BadParameter.__module__].ClickException


class MiniMindGroup(TyperGroup):
    """Turns a MiniMindError raised anywhere below into one readable message + exit code, and
    anything else into one line that says it is a bug (MINIMIND_DEBUG=1 shows the traceback)."""

    def invoke(self, ctx):  # noqa: ANN001, ANN201 - click's signature
        try:
            return super().invoke(ctx)
        except (CLICK_ERROR, typer.Exit, typer.Abort):
            raise  # the command line's own: usage errors exit 2, Exit carries its code
        except MiniMindError as e:
            from minimind_notes.cli.console import print_error

            print_error(e.message, e.hint)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            from minimind_notes.cli.console import err_console

            err_console.print("Interrupted.")
            raise typer.Exit(130) from None
        except Exception as e:
            if os.environ.get("MINIMIND_DEBUG", "") not in ("", "0"):
                raise
            from minimind_notes.cli.console import print_error

            if isinstance(e, OSError) and e.strerror:  # the disk, a permission, a path: not a bug
                print_error(f"{e.strerror}: {e.filename}" if e.filename else e.strerror,
                            "check the path, its permissions and the free disk space")
            else:
                first_line = next(iter(str(e).strip().splitlines()), "")
                print_error(f"internal error: {type(e).__name__}: {first_line}",
                            "this is a bug in minimind-notes; rerun with MINIMIND_DEBUG=1 for the traceback")
            raise typer.Exit(1) from None


app = typer.Typer(
    name="minimind", cls=MiniMindGroup, no_args_is_help=True, add_completion=False,
    rich_markup_mode="rich", pretty_exceptions_enable=False,
    help="Learn how a modern LLM is built by measuring it, then train MiniMind from scratch.",
)
bench_app = typer.Typer(cls=MiniMindGroup, no_args_is_help=True,
                        help="Speed benchmarks (figures, not tests).")
app.add_typer(bench_app, name="bench")


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


from minimind_notes.cli import (  # noqa: E402,F401  (register the commands)
    bench_cmds,
    chat_cmds,
    data_cmds,
    doctor,
    eval_cmds,
    learn_cmds,
    model_cmds,
    notes_cmds,
    progress_cmds,
    quiz_cmds,
    tokenizer_cmds,
    train_cmds,
)


def main() -> None:
    app()
