"""The demo site serves dates relative to the day it runs and, in its "before" phase, the
listings as they were a few weeks earlier (fast: no crawl, no model)."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import date

import pytest

from revmon.demo_site.server import BRANCH, DATA, DemoServer, fill_dates

TODAY = date(2031, 3, 20)


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode("utf-8")


def test_fill_dates_counts_back_from_today():
    assert fill_dates('"{{DAY-0}}T10:00" "{{DAY-19}}"', TODAY) == '"2031-03-20T10:00" "2031-03-01"'


def test_no_bundled_file_carries_a_fixed_date():
    for path in DATA.rglob("*.*"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"20\d\d-\d\d-\d\d", text), path
        assert "{{DAY-" in text, path


def test_pages_are_dated_from_today_and_spread_over_six_months():
    with DemoServer(today=TODAY) as server:
        body = json.loads(get(f"{server.base_url}/2.0/branches/{BRANCH}/reviews?page=1"))
        days = {date.fromisoformat(r["date_created"][:10]) for r in body["reviews"]}
        assert max(days) == date(2031, 3, 18)  # the newest is two days old
        page = get(f"{server.base_url}/review/northwind.example?page=2")
        oldest = min(date.fromisoformat(d) for d in re.findall(r"(\d{4}-\d\d-\d\d)T", page))
        assert 150 <= (TODAY - oldest).days <= 180


def test_the_before_phase_shows_the_earlier_listing():
    with DemoServer(today=TODAY) as server:
        now = get(f"{server.base_url}/review/northwind.example")
        server.phase = "before"
        before = get(f"{server.base_url}/review/northwind.example")
        assert "Grinder replaced quickly" in now and "Grinder replaced quickly" not in before
        assert "Grinder broke after a week" in before
        assert "charged my card twice" in now and "charged my card twice" not in before
        rival = get(f"{server.base_url}/review/rivalroasters.example")  # no earlier variant
        assert "Rival Roasters" in rival
        with pytest.raises(ValueError, match="phase must be"):
            server.phase = "later"
