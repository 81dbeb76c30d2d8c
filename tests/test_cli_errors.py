"""Problems a user can fix end in one clear line and exit code 2, never a traceback."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from pipeline.cli import main


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
