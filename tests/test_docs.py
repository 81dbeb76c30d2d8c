"""Every CLI command has help text and is documented in README.md (as sqlite-utils does)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import typer

from revmon.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "revmon") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        full = f"{prefix} {name}"
        found.append((full, command))
        if isinstance(command, click.Group):
            found.extend(commands(command, full))
    return found


ALL = commands(typer.main.get_command(app))


def test_core_commands_exist() -> None:
    names = {name for name, _ in ALL}
    assert {"revmon init", "revmon demo", "revmon export", "revmon score"} <= names


@pytest.mark.parametrize(("name", "command"), ALL, ids=[name for name, _ in ALL])
def test_command_has_help_and_is_in_readme(name: str, command: click.Command) -> None:
    assert (command.help or "").strip(), f"{name} has no help text"
    assert f"`{name}" in README, f"{name} is not documented in README.md"


def test_security_section_keeps_its_promises_checkable() -> None:
    """The README says what revmon promises, names the test behind each promise (they must
    exist), and gives the reverse-proxy headers Streamlit cannot send itself."""
    section = README.split("## Security", 1)[1].split("\n## ", 1)[0]
    tests = Path(__file__).parent
    named = set(re.findall(r"`(tests/[a-z_]+\.py)`", section))
    assert len(named) >= 7
    assert all((tests.parent / path).is_file() for path in named), named
    for header in ("frame-ancestors 'none'", "X-Frame-Options", "Strict-Transport-Security"):
        assert header in section
    assert "listen 443 ssl" in section and "proxy_pass http://127.0.0.1:8501" in section
