"""``revmon dashboard``: run the Streamlit app from wherever revmon is installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")


def streamlit_command(port: int = 8501, address: str = "127.0.0.1") -> list[str]:
    """The ``streamlit run`` command line: headless (no browser opened on a server), no usage
    statistics sent anywhere, no developer toolbar, bound to ``address`` (localhost unless
    asked otherwise)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
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
