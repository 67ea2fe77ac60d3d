"""What every command shares: the group that turns errors into one message (and gives every --multi-word
flag MiniMind's --multi_word spelling), the --lang and --seed options, the learner's session (curriculum,
progress, language) and the lookup of a command's bilingual strings (all of them in strings.yaml beside this file).
Kept light: `minimind --help` imports it."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from minimind_notes.errors import MiniMindError
from minimind_notes.train.config import SEED_MAX

if TYPE_CHECKING:
    from minimind_notes.curriculum.progress import Progress
    from minimind_notes.curriculum.schema import Curriculum

# click's base exception (usage errors and the like): from click, or from the copy typer >= 0.2x ships
CLICK_ERROR = sys.modules[typer.BadParameter.__module__].ClickException

LANG_OPTION = typer.Option(None, "--lang", envvar="MINIMIND_LANG", help="Language: en or zh.")


def seed_option(default: int | None, help: str = "Random seed.") -> Any:
    """--seed, checked while the command line is parsed: 0 to 2**32 - 1 wherever a seed is taken."""
    return typer.Option(default, "--seed", min=0, max=SEED_MAX, help=help)


def underscore_aliases(command: Any) -> None:
    """MiniMind's scripts spell flags with underscores (--max_seq_len): every --multi-word flag of `command`
    also answers to that spelling."""
    for param in command.params:
        for flags in (param.opts, param.secondary_opts):
            for flag in list(flags):
                alias = "--" + flag[2:].replace("-", "_")
                if flag.startswith("--") and alias not in flags:
                    flags.append(alias)


class MiniMindGroup(TyperGroup):
    """Turns a MiniMindError raised anywhere below into one readable message + exit code, and
    anything else into one line that says it is a bug (MINIMIND_DEBUG=1 shows the traceback). Its commands'
    --multi-word flags take MiniMind's --multi_word spelling too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for command in self.commands.values():
            if not isinstance(command, TyperGroup):  # a sub-group does its own commands
                underscore_aliases(command)

    def invoke(self, ctx):  # click's signature
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


def group(help: str, **settings: object) -> typer.Typer:
    """A command group (`minimind eval ...`) with the project's error handling."""
    return typer.Typer(cls=MiniMindGroup, help=help, **{"no_args_is_help": True, **settings})


def session(lang: str | None) -> tuple[Curriculum, Progress, str]:
    """The curriculum, the learner's progress and the language a learning command runs with."""
    from minimind_notes.curriculum.progress import Progress
    from minimind_notes.curriculum.schema import load_curriculum
    from minimind_notes.i18n import resolve_lang

    lang = resolve_lang(lang)
    return load_curriculum(), Progress.shared(), lang  # it warns itself about a broken file


def strings(command: str) -> Callable[..., str]:
    """`t(key, lang, **values)`: one of the command's bilingual strings (cli/strings.yaml), in `lang`,
    with `values` filled in."""

    def t(key: str, lang: str, **values: object) -> str:
        from minimind_notes.i18n import render

        return render(string_table()[command], key, lang, **values)

    return t


@cache
def string_table() -> dict[str, dict[str, dict[str, str]]]:
    import yaml

    return yaml.safe_load((Path(__file__).parent / "strings.yaml").read_text(encoding="utf-8"))
