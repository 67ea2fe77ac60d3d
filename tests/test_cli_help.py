"""Every command and sub-command answers -h and --help (the house CLI convention)."""

import pytest
import typer
from typer.testing import CliRunner

from minimind_notes.cli.app import app


def command_paths(command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [path]
    if hasattr(command, "commands"):  # a group (typer vendors its own click)
        for name, sub in command.commands.items():
            paths += command_paths(sub, (*path, name))
    return paths


PATHS = command_paths(typer.main.get_command(app))


@pytest.mark.parametrize("path", PATHS, ids=[" ".join(p) or "minimind" for p in PATHS])
def test_every_command_answers_dash_h_and_help(path):
    for flag in ("-h", "--help"):
        result = CliRunner().invoke(app, [*path, flag])
        assert result.exit_code == 0, (path, flag, result.output)
        assert "Usage" in result.output
