"""``revmon dashboard``: run the Streamlit app from wherever revmon is installed.

The app is found as a file (Streamlit runs a script), not imported: the dashboard sits above the
app layer and this module must not depend on it.
"""

from __future__ import annotations

import ctypes
import importlib.util
import signal
import subprocess
import sys
from pathlib import Path

STOP_TIMEOUT_S = 10
PR_SET_PDEATHSIG = 1

_SPEC = importlib.util.find_spec("dashboard")
if _SPEC is None or not _SPEC.submodule_search_locations:
    raise ImportError("revmon's dashboard package is not installed")
APP = Path(next(iter(_SPEC.submodule_search_locations))) / "app.py"


def streamlit_command(port: int = 8501, address: str = "127.0.0.1") -> list[str]:
    """The ``streamlit run`` command line (through ``revmon.streamlit_main``, which imports the
    dashboard's modules while the server starts): headless (no browser opened on a server), no usage
    statistics sent anywhere, no developer toolbar, bound to ``address`` (localhost unless
    asked otherwise)."""
    return [
        sys.executable, "-m", "revmon.streamlit_main", "run", str(APP),
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", address,
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
    ]  # fmt: skip


def run_dashboard(port: int = 8501, address: str = "127.0.0.1") -> int:
    """Run the dashboard in the foreground until interrupted; returns Streamlit's exit code.

    Streamlit runs as a child process, and it must never outlive ``revmon dashboard``: SIGTERM
    and SIGHUP (systemd, docker stop, a closed terminal) are passed on to it and waited for,
    and on Linux the child is also told to stop if this process dies without a word (SIGKILL)."""
    child = subprocess.Popen(streamlit_command(port, address), preexec_fn=_die_with_parent)

    def forward(signum: int, _frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return child.wait()
    except KeyboardInterrupt:  # Ctrl-C reached the child too; it is stopped below
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop(child)


def _stop(child: subprocess.Popen[bytes]) -> None:
    """Terminate the child if it still runs; kill it if it does not stop in time."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
