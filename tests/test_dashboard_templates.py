"""Reply drafts: every language has every phrase and aspect line; drafts follow the review."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from dashboard.templates import ASPECT_LINES, LANGUAGES, PHRASES, draft_reply, template_language
from revmon.cli import app
from revmon.launch import APP, streamlit_command


def test_every_language_has_every_phrase_and_aspect():
    assert set(LANGUAGES) >= {"en", "ru", "pl", "uk", "de", "es"}
    keys = set(PHRASES["en"])
    for lang in LANGUAGES:
        assert set(PHRASES[lang]) == keys, lang
        for aspect, lines in ASPECT_LINES.items():
            assert lines[lang].strip(), (aspect, lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_negative_draft_names_each_aspect_once(lang):
    draft = draft_reply(lang, ["staff", "price", "staff", "unknown"], author="Kim", place="Cafe")
    assert "Kim" in draft and "Cafe" in draft
    assert draft.count(ASPECT_LINES["staff"][lang]) == 1
    assert ASPECT_LINES["price"][lang] in draft
    assert draft.endswith(PHRASES[lang]["close_negative"])


def test_positive_draft_thanks_without_aspect_lines():
    draft = draft_reply("en", ["staff"], negative=False)
    assert (
        draft == "Hello, thank you for your kind review of us! We look forward to seeing you again."
    )


def test_exact_russian_draft():
    assert draft_reply("ru", ["wait_time"], author="Иван", place="Central Cafe") == (
        "Здравствуйте, Иван! Спасибо за отзыв о Central Cafe; нам очень жаль, что так получилось. "
        "Мы работаем над тем, чтобы сократить время ожидания. "
        "Пожалуйста, напишите нам, чтобы мы могли всё исправить."
    )


@pytest.mark.parametrize(("given", "used"), [("uk", "uk"), ("fr", "en"), (None, "en"), ("", "en")])
def test_unknown_languages_fall_back_to_english(given, used):
    assert template_language(given) == used


def test_streamlit_command_is_headless_on_the_given_port():
    command = streamlit_command(9123, "0.0.0.0")
    assert command[:5] == [sys.executable, "-m", "revmon.streamlit_main", "run", str(APP)]
    assert APP.is_file()
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options == {
        "--server.headless": "true",
        "--server.port": "9123",
        "--server.address": "0.0.0.0",
        "--browser.gatherUsageStats": "false",
        "--client.toolbarMode": "minimal",
    }


def test_dashboard_command_has_help():
    result = CliRunner().invoke(app, ["dashboard", "--help"])
    assert result.exit_code == 0
    assert "Start the Streamlit dashboard" in result.output
    assert "--port" in result.output
    bad = CliRunner().invoke(app, ["dashboard", "--port", "0"])
    assert bad.exit_code == 2


def test_the_launcher_is_streamlits_own_command_line(monkeypatch):
    import streamlit.web.cli

    from revmon import streamlit_main

    seen = []
    monkeypatch.setattr(streamlit.web.cli, "main", lambda: seen.append(list(sys.argv)))
    monkeypatch.setattr(sys, "argv", ["revmon.streamlit_main", "run", "app.py", "--x", "1"])
    streamlit_main.main()
    assert seen == [["streamlit", "run", "app.py", "--x", "1"]]
    assert "pipeline.queries" in sys.modules and "altair" in sys.modules
