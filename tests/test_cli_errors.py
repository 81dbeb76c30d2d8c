"""Problems a user can fix end in one clear line and exit code 2, never a traceback."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from revmon.cli import main


def test_a_model_that_cannot_load_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    monkeypatch.setenv("REVMON_SENTIMENT_MODEL", str(empty))
    monkeypatch.setattr(sys, "argv", ["revmon", "sentiment", "classify"])
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"text": "fine"}\n'))
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"cannot load sentiment model '{empty}'" in err
    assert "REVMON_SENTIMENT_MODEL" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "stdin, where",
    [("not json\n", "stdin line 1: not JSON"), ('{"text": "ok"}\n\n["a list"]\n', "stdin line 3")],
)
def test_classify_names_the_bad_input_line(
    stdin: str,
    where: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(sys, "argv", ["revmon", "sentiment", "classify"])
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as exit_info:
        main()  # fails on the input before any model is loaded
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert where in err and "Traceback" not in err


def test_eval_names_the_bad_line_of_a_labelled_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text(
        '{"text": "fine", "label": "positive"}\n{"text": "cut off', encoding="utf-8"
    )
    monkeypatch.setenv("REVMON_SENTIMENT_MODEL", str(tmp_path / "never-loaded"))
    monkeypatch.setattr(sys, "argv", ["revmon", "sentiment", "eval", str(labelled)])
    with pytest.raises(SystemExit) as exit_info:
        main()  # the file is read first: the (missing) model is never loaded
    assert exit_info.value.code == 2
    assert f"{labelled} line 2: not JSON" in capsys.readouterr().err


def test_screen_refuses_an_unknown_set_before_loading_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    new = tmp_path / "new.jsonl"
    new.write_text('{"text": "fine"}\n', encoding="utf-8")
    argv = ["revmon", "sentiment", "screen", str(new), "--against", "test5"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "choose one of all, train, held-out" in err and "Traceback" not in err
