"""Problems a user can fix end in one clear line and exit code 2, never a traceback."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from revmon.cli import main
from tests.local_smtp import free_port

ROOT = Path(__file__).resolve().parents[1]


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
    [
        ("not json\n", "stdin line 1: not JSON"),
        ('{"text": "ok"}\n\n["a list"]\n', "stdin line 3"),
        ('{"text": "ok"}\n{"txt": "typo"}\n', 'stdin line 2: no "text" string'),
        ('{"text": null}\n', 'stdin line 1: no "text" string'),
    ],
)
def test_classify_names_the_bad_input_line(
    stdin: str,
    where: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REVMON_SENTIMENT_MODEL", str(tmp_path / "never-loaded"))
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


# --- the database, the export file, the erase argument -----------------------------------------


def revmon(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real entry point in a child process, as a user or cron runs it."""
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    full.pop("REVMON_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "revmon.cli", *args],
        cwd=tmp_path, env=full, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql+psycopg://revmon:pw-never-shown@127.0.0.1:1/x", "cannot use the database"),
        ("not a database url", "bad database URL (REVMON_DATABASE_URL)"),
        ("nosuchdb+nodriver://host/db", "bad database URL (REVMON_DATABASE_URL)"),
    ],
    ids=["unreachable", "unparsable", "unknown-dialect"],
)
def test_a_database_that_cannot_be_used_is_one_line(
    tmp_path: Path, url: str, expected: str
) -> None:
    line = one_line(revmon(tmp_path, {"REVMON_DATABASE_URL": url}, "init"))
    assert line.startswith(f"revmon: {expected}")
    assert "pw-never-shown" not in line


def test_export_into_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    env = {"REVMON_DATABASE_URL": f"sqlite:///{tmp_path / 'revmon.db'}"}
    target = tmp_path / "no-such-folder" / "out.jsonl"
    line = one_line(revmon(tmp_path, env, "export", "-o", str(target)))
    assert line == f"revmon: cannot write {target}: the folder {target.parent} does not exist"


def test_erase_of_a_blank_name_is_one_line(tmp_path: Path) -> None:
    env = {"REVMON_DATABASE_URL": f"sqlite:///{tmp_path / 'revmon.db'}"}
    line = one_line(revmon(tmp_path, env, "erase", "  "))
    assert line == "revmon: give the exact author name to erase, as shown on the platform"


# --- `revmon dashboard` stopped by SIGTERM -----------------------------------------------------


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_stops_the_dashboard_and_its_streamlit_child(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "REVMON_DATABASE_URL": f"sqlite:///{tmp_path / 'revmon.db'}"}  # fmt: skip
    env.pop("REVMON_CONFIG", None)
    log = (tmp_path / "dashboard.log").open("wb")
    parent = subprocess.Popen(
        [sys.executable, "-m", "revmon.cli", "dashboard", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    streamlit: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _healthy(port):
            assert parent.poll() is None, (tmp_path / "dashboard.log").read_text()
            time.sleep(0.3)
        streamlit = children_of(parent.pid)
        assert streamlit, "the dashboard runs Streamlit in a child process"
        parent.send_signal(signal.SIGTERM)
        parent.wait(30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(alive(pid) for pid in streamlit):
            time.sleep(0.2)
        assert not any(alive(pid) for pid in streamlit), "Streamlit outlived revmon dashboard"
        assert not _healthy(port)
    finally:
        for pid in [parent.pid, *streamlit]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        parent.wait(10)
        log.close()


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False
