"""``revmon dashboard``: run the Streamlit app from wherever revmon is installed.

The app is found as a file (Streamlit runs a script), not imported: the dashboard sits above the
app layer and this module must not depend on it.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

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
    """Run the dashboard in the foreground until interrupted; returns Streamlit's exit code."""
    try:
        return subprocess.call(streamlit_command(port, address))
    except KeyboardInterrupt:
        return 0
