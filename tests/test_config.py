"""Configuration: the TOML file and REVMON_* variables; a bad value fails naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from pipeline.config import load_settings
from revmon.cli import app

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "revmon.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_example_config_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVMON_CONFIG", str(ROOT / "revmon.example.toml"))
    settings = load_settings()
    assert [loc.key for loc in settings.locations] == [
        "northwind-warsaw",
        "northwind-novosibirsk",
        "rival-roasters",
    ]
    assert settings.locations[2].is_competitor
    assert settings.locations[0].sources[2].target == "accounts/1234567890/locations/9876543210"


def test_environment_beats_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REVMON_CONFIG", str(write(tmp_path, 'database_url = "sqlite:///a.db"\n')))
    monkeypatch.setenv("REVMON_DATABASE_URL", "sqlite:///b.db")
    assert load_settings().db_url == "sqlite:///b.db"


def test_default_database_is_sqlite_in_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("REVMON_DATABASE_URL", raising=False)
    monkeypatch.setenv("REVMON_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert load_settings().db_url == f"sqlite:///{tmp_path / 'revmon.db'}"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('[[locations]]\nkey = "a"\nname = "A"\ntimezone = "Mars/Olympus"\n', "timezone"),
        ('[[locations]]\nkey = "Bad Key!"\nname = "A"\n', "key"),
        ('[[locations]]\nkey = "a"\nname = "A"\n[[locations.sources]]\nplatform = "myspace"\n'
         'url = "https://x"\n', "platform"),
        ('[[locations]]\nkey = "a"\nname = "A"\n[[locations.sources]]\nplatform = "yelp"\n',
         "target"),
        ('[sla]\nrespond_by_hour = 25\n', "respond_by_hour"),
        ('unknown_setting = 1\n', "unknown_setting"),
    ],
)  # fmt: skip
def test_bad_config_names_the_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, body: str, field: str
) -> None:
    monkeypatch.setenv("REVMON_CONFIG", str(write(tmp_path, body)))
    with pytest.raises(ValidationError) as error:
        load_settings()
    assert field in str(error.value)


def test_cli_reports_bad_config_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("REVMON_CONFIG", str(write(tmp_path, "[sla]\nrespond_by_hour = 25\n")))
    result = CliRunner().invoke(app, ["init"])
    assert result.exit_code == 2
    assert "bad configuration: sla.respond_by_hour" in result.output
    assert "Traceback" not in result.output


def test_missing_config_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("REVMON_CONFIG", str(tmp_path / "nope.toml"))
    result = CliRunner().invoke(app, ["init"])
    assert result.exit_code == 2
    assert "not a file" in result.output


def test_secrets_are_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVMON_GOOGLE_ACCESS_TOKEN", "ya29.very-secret")
    settings = load_settings()
    assert "very-secret" not in repr(settings)
    assert settings.google_access_token.get_secret_value() == "ya29.very-secret"
