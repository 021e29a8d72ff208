"""The command table and how a command's outcome reaches the terminal, without a cloud."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cli.app import parser
from cli.commands import COMMANDS, main
from tests.support import ROOT


def test_every_command_has_one_path_and_parses_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    paths = [command.path for command in COMMANDS]
    assert len(set(paths)) == len(paths)
    table = parser(COMMANDS, "test")
    for path in paths:
        with pytest.raises(SystemExit) as exit_info:
            table.parse_args([*path, "--help"])
        assert exit_info.value.code == 0
        assert "--env" in capsys.readouterr().out


def test_an_unknown_environment_is_one_line_naming_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list", "--env", "qa"]) == 1
    assert capsys.readouterr().err == "error: unknown environment 'qa': use one of local, dev, prod (ENV=...)\n"


def test_an_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["deploy-everything"])
    assert exit_info.value.code == 2


def test_python_dash_m_ml_starts_without_loading_tensorflow_or_the_providers() -> None:
    probe = "import sys, runpy; sys.argv = ['ml', '--help']\ntry: runpy.run_module('ml', run_name='__main__')\n"
    probe += "except SystemExit: pass\nprint(sorted(m for m in ('tensorflow', 'keras', 'cdktn') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"
