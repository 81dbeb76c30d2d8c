"""A real browser against the running dashboard: headless Chromium loads the inbox and the Trends
page of a seeded database, screenshots are taken, and review text carrying HTML and JavaScript
stays inert."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from pipeline.db import make_engine, migrate
from pipeline.models import Review
from revmon.launch import streamlit_command
from tests.seed_dashboard import XSS, seed
from tests.test_dashboard_insights import add_insights

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROME_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
    "--window-size=1600,1200",
)  # fmt: skip
START_TIMEOUT = 60

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer at {url} within {START_TIMEOUT} s")


HOSTILE_AUTHOR = "http://evil.example/steal **bold** [click](http://evil.example/x)"


@pytest.fixture
def dashboard_url(request, tmp_path):
    url_db = f"sqlite:///{tmp_path / 'revmon.db'}"
    engine = make_engine(url_db)
    migrate(engine)
    with Session(engine) as session:
        ids = seed(session, datetime.now(UTC))
        add_insights(session, ids)
        if getattr(request, "param", None) == "hostile":  # the review the inbox opens first
            review = session.get(Review, ids["g1"])
            review.author = HOSTILE_AUTHOR
            review.title = "**evil** title www.evil.example"
        session.commit()
    engine.dispose()
    port = free_port()
    env = {**os.environ, "REVMON_DATABASE_URL": url_db}
    env.pop("REVMON_CONFIG", None)
    log = (tmp_path / "streamlit.log").open("wb")
    process = subprocess.Popen(
        streamlit_command(port), cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_inbox_in_a_real_browser(dashboard_url, browser, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException, TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(dashboard_url)
    body = lambda: browser.find_element(By.TAG_NAME, "body").text  # noqa: E731
    expected = ("Inbox", "Overdue", "Waited an hour and the staff were rude.", XSS, "Review #")
    try:
        WebDriverWait(browser, START_TIMEOUT).until(lambda _: all(e in body() for e in expected))
    except TimeoutException:
        pytest.fail(f"the inbox did not render; the page shows: {body()[:2000]!r}")
    time.sleep(1)  # let the last elements paint before the screenshot
    shot = tmp_path / "inbox.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("REVMON_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["REVMON_SCREENSHOT_DIR"]) / "inbox.png")

    text = body()
    assert "Inbox" in text and "Overdue" in text
    assert XSS in text  # the hostile review shows as its literal characters
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert  # noqa: B018 (the property raises when no alert fired)
    assert browser.find_elements(By.CSS_SELECTOR, 'img[src="x"]') == []
    scripts = browser.find_elements(By.TAG_NAME, "script")
    assert not any("alert(1)" in (s.get_attribute("innerHTML") or "") for s in scripts)


@pytest.mark.parametrize("dashboard_url", ["hostile"], indirect=True)
def test_an_author_name_with_a_url_is_not_a_link(dashboard_url, browser):
    """Review-supplied text is shown as its characters: no link, no bold, in a real browser."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(dashboard_url)
    body = lambda: browser.find_element(By.TAG_NAME, "body").text  # noqa: E731
    try:
        WebDriverWait(browser, START_TIMEOUT).until(lambda _: "Review #" in body())
        WebDriverWait(browser, 10).until(lambda _: HOSTILE_AUTHOR in body())
    except TimeoutException:
        pytest.fail(f"the author was not shown literally; the page shows: {body()[:2000]!r}")
    hrefs = [a.get_attribute("href") or "" for a in browser.find_elements(By.TAG_NAME, "a")]
    assert not [h for h in hrefs if "evil.example" in h]
    emphasis = browser.find_elements(By.XPATH, "//strong|//b|//em")
    assert not [e.text for e in emphasis if "bold" in e.text or "evil" in e.text]


def test_trends_in_a_real_browser(dashboard_url, browser, tmp_path):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.set_window_size(1600, 4200)  # the whole page in one screenshot
    browser.get(f"{dashboard_url}/trends")
    body = lambda: browser.find_element(By.TAG_NAME, "body").text  # noqa: E731

    def charts() -> int:
        """Charts that have drawn (Vega-Lite puts a canvas or an svg in each)."""
        script = (
            "return [...document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]')]"
            ".filter(c => c.querySelector('canvas, svg')).length"
        )
        return int(browser.execute_script(script))

    expected = ("Trends", "Secure customers", "Recovery", "Incidents", "Emerging topics",
                "The public picture", "Competitors side by side", "End of Trends.")  # fmt: skip
    try:
        WebDriverWait(browser, START_TIMEOUT).until(
            lambda _: all(e in body() for e in expected) and charts() >= 3
        )
    except TimeoutException:
        pytest.fail(f"Trends did not render; the page shows: {body()[:2000]!r}")
    time.sleep(1)
    shot = tmp_path / "trends.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 50_000
    if os.environ.get("REVMON_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["REVMON_SCREENSHOT_DIR"]) / "trends.png")
    text = body()
    assert "Central Cafe" in text and "Rival Bistro" in text  # names, not keys
    assert "Traceback" not in text and "Error" not in text
