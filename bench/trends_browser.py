"""Benchmark: the whole Trends page in headless Chromium, on SQLite at 1M reviews.

    python bench/trends_browser.py [--rows 1000000] [--runs 3]

Builds the database of ``bench/dashboard.py`` (rollups built once), then for each source of the
page's figures, the rollups and, as the baseline, the raw tables (``REVMON_TRENDS_SOURCE=raw``):
starts a fresh ``revmon dashboard`` process and a fresh browser, and times from asking for
``/trends`` until the last section is on screen, every chart has drawn and Streamlit has
stopped running the script ("fresh start"), noting when Streamlit's frame (the sidebar) first
shows ("frame": what any page of the app costs here before its own content); then reloads the
page in the same browser ("from cache"). Each figure is the median of ``--runs`` fresh
starts. Needs Debian's ``chromium`` and ``chromium-driver``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
# bench/dashboard.py, first on the path when this file runs, would shadow the dashboard package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

from revmon.launch import streamlit_command  # noqa: E402

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--disable-background-networking",
         "--window-size=1600,1200")  # fmt: skip
CHARTS = 3
DRAWN = (
    "return [...document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]')]"
    ".filter(c => c.querySelector('canvas, svg')).length"
)
RUNNING = "return !!document.querySelector('[data-testid=\"stStatusWidget\"]')"


def bench_data():
    """bench/dashboard.py as a module (its file name would shadow the dashboard package)."""
    spec = importlib.util.spec_from_file_location("bench_dashboard", HERE / "dashboard.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_dashboard(url_db: str, source: str, cwd: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "REVMON_DATABASE_URL": url_db, "REVMON_TRENDS_SOURCE": source}
    env.pop("REVMON_CONFIG", None)
    process = subprocess.Popen(streamlit_command(port), cwd=cwd, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise TimeoutError("the dashboard did not start within 60 s")


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def page_load(driver, url: str, timeout: float = 300) -> tuple[float, float]:
    """Seconds from asking for the page until Streamlit's frame shows (the sidebar's filters:
    what any page of this app costs before its own content), and until the page is complete
    (see the module docstring)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    framed: list[float] = []

    def complete(_: object) -> bool:
        body = driver.find_element(By.TAG_NAME, "body").text
        if not framed and "Published between" in body:
            framed.append(time.perf_counter() - start)
        return ("End of Trends." in body and driver.execute_script(DRAWN) >= CHARTS
                and not driver.execute_script(RUNNING))  # fmt: skip

    start = time.perf_counter()
    driver.get(url)
    WebDriverWait(driver, timeout, poll_frequency=0.02).until(complete)
    done = time.perf_counter() - start
    return (framed[0] if framed else done), done


def measure(url_db: str, source: str, runs: int, cwd: Path) -> tuple[float, float, float]:
    """(frame on a fresh start, fresh start, from cache), medians over ``runs`` fresh dashboard
    processes."""
    frame, fresh, cached = [], [], []
    for _ in range(runs):
        process, url = start_dashboard(url_db, source, cwd)
        driver = browser()
        try:
            first, whole = page_load(driver, f"{url}/trends")
            frame.append(first)
            fresh.append(whole)
            cached.append(page_load(driver, f"{url}/trends")[1])
        finally:
            driver.quit()
            process.terminate()
            process.wait(timeout=20)
    return statistics.median(frame), statistics.median(fresh), statistics.median(cached)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = bench_data()
    from pipeline.db import make_engine

    with tempfile.TemporaryDirectory() as tmp:
        url_db = f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url_db)
        data.build("SQLite", engine, args.rows, data.load_sqlite)
        engine.dispose()
        results = {source: measure(url_db, source, args.runs, Path(tmp))
                   for source in ("rollups", "raw")}  # fmt: skip
    print(f"\nTrends page in headless Chromium, {args.rows:,} reviews on SQLite "
          f"(median of {args.runs})")  # fmt: skip
    print(f"{'figures from':14} {'frame s':>8} {'fresh start s':>14} {'from cache s':>13}")
    for source, (frame, fresh, cached) in results.items():
        print(f"{source:14} {frame:8.2f} {fresh:14.2f} {cached:13.2f}")
    fresh, raw_fresh = results["rollups"][1], results["raw"][1]
    verdict = "under" if fresh < 1.5 else "OVER"
    print(
        f"raw / rollups, fresh start: {raw_fresh / fresh:.1f}x; "
        f"the whole page from a fresh start: {fresh:.2f} s ({verdict} the 1.5 s goal)"
    )


if __name__ == "__main__":
    main()
