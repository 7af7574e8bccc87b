"""The help of the `missions` command and its subcommands."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from missions.cli import app

COMMANDS = ["dev", "stop", "worker", "api", "sandbox", "migrate", "demo"]


def _help(*arguments: str) -> str:
    result = CliRunner().invoke(app, [*arguments, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    return result.output


def _option_line(help_text: str, option: str) -> str:
    match = re.search(rf"^.*{re.escape(option)}\s.*$", help_text, re.MULTILINE)
    assert match is not None, help_text
    return match.group(0)


def test_demo_flag_shows_no_type() -> None:
    help_text = _help("demo")
    keep_stack = _option_line(help_text, "--keep-stack")
    assert re.search(r"--keep-stack\s+Leave a stack the demo started running", keep_stack)
    assert "<bool>" not in help_text


def test_valued_options_keep_type() -> None:
    help_text = _help("demo")
    assert "<path>" in _option_line(help_text, "--cases")
    assert "<str>" in _option_line(help_text, "--api")


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_flag_shows_no_type(command: str | None) -> None:
    help_text = _help(*([command] if command else []))
    assert re.search(r"--help\s+Show this message and exit", _option_line(help_text, "--help"))
    assert "<bool>" not in help_text
