"""Trends: volume, stars, negativity, review NPS and responsiveness over time and side by side."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.components import date_range, location_choices
from pipeline.queries import Filters, Stats

st.title("Trends")
sidebar = st.sidebar
sidebar.header("Filters")
places = location_choices(include_competitors=False)
locations = sidebar.multiselect("Location", list(places), format_func=places.get, key="t_loc")
platforms = sidebar.multiselect("Platform", data.filter_options().platforms, key="t_platform")
granularity = sidebar.radio("Per", ["day", "week", "month"], index=1, key="t_gran", horizontal=True)
since, until = date_range("t_dates", default_days=180)
filters = Filters(locations=tuple(locations), platforms=tuple(platforms), since=since, until=until)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def frame(rows: list[Stats], key_name: str) -> pd.DataFrame:
    """One row per group with the derived figures the charts and tables show."""
    return pd.DataFrame(
        {
            key_name: [row.key for row in rows],
            "reviews": [row.reviews for row in rows],
            "avg rating": [row.avg_rating for row in rows],
            "negative %": [_pct(row.negative_share) for row in rows],
            "NPS": [row.nps for row in rows],
            "NPS band": [row.nps_band for row in rows],
            "response rate %": [_pct(row.response_rate) for row in rows],
            "median response h": [row.median_response_hours for row in rows],
        }
    )


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


total = data.summary(filters)
cols = st.columns(6)
cols[0].metric("Reviews", total.reviews)
cols[1].metric("Average rating", number(total.avg_rating))
cols[2].metric("Negative", percent(total.negative_share))
BAND_COLOURS = {"good": "green", "fair": "blue", "worrying": "orange", "critical": "red"}
cols[3].metric(
    "Review NPS",
    number(total.nps, 0),
    total.nps_band,
    delta_color=BAND_COLOURS.get(total.nps_band or "", "off"),
    delta_arrow="off",
)
cols[4].metric("Response rate", percent(total.response_rate))
cols[5].metric("Median response", f"{number(total.median_response_hours, 1)} h")
st.caption(
    "Review NPS: % of 5-star reviews minus % of 1-3 star reviews. "
    "50+ good, below 30 worrying, below 5 critical."
)

series = frame(data.trend(filters, granularity), "period")
if series.empty:
    st.info("No reviews in this range.")
    st.stop()
left, right = st.columns(2)
left.subheader("Volume")
left.bar_chart(series, x="period", y="reviews")
right.subheader("Average rating")
right.line_chart(series, x="period", y="avg rating")
left.subheader("Share negative (%)")
left.line_chart(series, x="period", y="negative %")
right.subheader("Review NPS")
right.line_chart(series, x="period", y="NPS")
left.subheader("Response rate (%)")
left.line_chart(series, x="period", y="response rate %")
right.subheader("Median response time (h)")
right.bar_chart(series, x="period", y="median response h")

st.subheader("Aspects over time")
aspects = pd.DataFrame(
    [vars(a) for a in data.aspect_trend(filters, granularity)],
    columns=["period", "aspect", "mentions", "negative"],
)
if aspects.empty:
    st.caption("No aspects found in this range.")
else:
    aspects["period"] = aspects["period"].astype(str)
    pivot = aspects.pivot_table(index="period", columns="aspect", values="mentions", fill_value=0)
    st.bar_chart(pivot, y_label="mentions")

st.subheader("Per location")
st.dataframe(frame(data.breakdown(filters, "location"), "location"), hide_index=True)
st.subheader("Per platform")
st.dataframe(frame(data.breakdown(filters, "platform"), "platform"), hide_index=True)

st.subheader("Competitors side by side")
everyone = Filters(platforms=tuple(platforms), since=since, until=until, include_competitors=True)
side = data.breakdown(everyone, "location")
table = frame(side, "location")
table.insert(1, "competitor", [row.is_competitor for row in side])
if not any(row.is_competitor for row in side):
    st.caption("No competitor locations configured (set is_competitor = true in revmon.toml).")
st.dataframe(table, hide_index=True)
