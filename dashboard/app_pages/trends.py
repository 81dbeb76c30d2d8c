"""Trends: what changed and why. KPIs against the previous period, volume, stars, negativity,
NPS and responsiveness over time, aspects split into praise and complaints, loyalty (NPS, SCI,
recovery) per location, incidents, emerging topics, the platforms' own displayed figures and
competitors side by side. Every figure comes from the rollups and small derived tables."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data, trend_view
from dashboard.components import date_range, location_choices, when
from pipeline.queries import Filters

st.title("Trends")
sidebar = st.sidebar
sidebar.header("Filters")
data.fresh_rollups()
options = data.trend_options()
places = location_choices(include_competitors=False, options=options)
locations = sidebar.multiselect("Location", list(places), format_func=places.get, key="t_loc")
platforms = sidebar.multiselect("Platform", options.platforms, key="t_platform")
granularity = sidebar.radio("Per", ["day", "week", "month"], index=1, key="t_gran", horizontal=True)
since, until = date_range("t_dates", default_days=180)
filters = Filters(locations=tuple(locations), platforms=tuple(platforms), since=since, until=until)
names = data.location_names()

comparison = data.compare_periods(filters)
for column, kpi in zip(st.columns(4) + st.columns(4), trend_view.kpis(
    comparison.current, comparison.previous), strict=True):  # fmt: skip
    column.metric(kpi.label, kpi.value, kpi.delta, delta_color=kpi.delta_color, help=kpi.help)
st.caption(
    f"Changes compare with the {(comparison.until - comparison.since).days} days before "
    f"{comparison.since:%Y-%m-%d}."
)

series = trend_view.frame(data.trend(filters, granularity), "period")
if series.empty:
    st.info("No reviews in this range.")
    st.stop()
# One chart per section with a chooser: each chart costs the browser a Vega render, and the
# whole page must draw fast (bench/trends_browser.py).
st.subheader("Over time")
picked = st.segmented_control(
    "Figure", list(trend_view.OVER_TIME), default="Volume", key="t_metric",
    label_visibility="collapsed",
) or "Volume"  # fmt: skip
column, kind = trend_view.OVER_TIME[picked]
chart = st.bar_chart if kind == "bar" else st.line_chart
chart(series, x="period", y=column, height=260)

st.subheader("Aspects: praise and complaints")
aspects = trend_view.aspects(data.aspect_sentiment(filters))
if aspects.empty:
    st.caption("No aspects found in this range.")
else:
    st.bar_chart(aspects, x="aspect", y=["praised", "criticised"], color=["#2e7d32", "#c62828"],
                 stack=False, horizontal=True, height=240)  # fmt: skip
    st.caption("Praised / criticised: the sentences about the aspect were positive / negative.")

st.subheader("Loyalty per location: NPS, Secure Customer Index, recovery")
everyone = Filters(platforms=tuple(platforms), since=since, until=until, include_competitors=True)
side = data.breakdown(everyone, "location")
st.dataframe(trend_view.loyalty(side, names), hide_index=True)
recovered = data.recovery(filters)
st.caption(
    f"Recovery: {recovered.recovered} of {recovered.replied} answered negative reviews came "
    f"round (median {trend_view.number(recovered.median_hours, 1)} h after the answer). "
    "SCI: reviews showing satisfaction, a will to return and to recommend, as Burke defines it."
)

left, right = st.columns(2)
left.subheader("Incidents")
found = data.incidents(since) if since else data.incidents(comparison.since)
shown = [i for i in found if not locations or set(i.locations) & set(locations)]
if not shown:
    left.caption("No incidents in this range.")
else:
    left.dataframe(
        pd.DataFrame(
            {
                "incident": [f"#{i.id}" for i in shown],
                "reviews": [i.size for i in shown],
                "platforms": [", ".join(i.platforms) for i in shown],
                "locations": [
                    ", ".join(trend_view.place(k, names) for k in i.locations) for i in shown
                ],  # fmt: skip
                "about": [", ".join(i.aspects) for i in shown],
                "first": [when(i.first_seen) for i in shown],
                "last": [when(i.last_seen) for i in shown],
            }
        ),
        hide_index=True,
    )
right.subheader("Emerging topics")
topics = [t for t in data.emerging_topics() if not locations or t.location_key in locations]
if not topics:
    right.caption("Nothing is emerging: no topic's recent share clearly exceeds its usual one.")
else:
    right.dataframe(
        pd.DataFrame(
            {
                "location": [trend_view.place(t.location_key, names) for t in topics],
                "words": [" · ".join(", ".join(ws) for ws in t.labels.values()) for t in topics],
                "recent %": [round(100 * t.recent_share, 1) for t in topics],
                "usual %": [round(100 * t.baseline_share, 1) for t in topics],
                "recent reviews": [t.recent_reviews for t in topics],
            }
        ),
        hide_index=True,
    )

st.subheader("The public picture: what each platform displays")
displayed = data.public_picture(filters if locations else everyone, granularity)
if not displayed:
    st.caption("No crawl has recorded a platform's own rating or count in this range yet.")
else:
    st.dataframe(
        trend_view.public_table(displayed),
        hide_index=True,
        column_config={
            "rating over time": st.column_config.LineChartColumn(y_min=1, y_max=5),
            "count over time": st.column_config.LineChartColumn(),
        },
    )

st.subheader("Competitors side by side")
table = trend_view.side_by_side(side, names)
if not any(row.is_competitor for row in side):
    st.caption("No competitor locations configured (set is_competitor = true in revmon.toml).")
figure = st.segmented_control(
    "Compare", list(trend_view.COMPARED), default="avg rating", key="t_compare",
    label_visibility="collapsed",
) or "avg rating"  # fmt: skip
st.bar_chart(table, x="location", y=figure, color="kind", height=240)
st.dataframe(table.drop(columns=["kind"]), hide_index=True)

st.subheader("Per location")
st.dataframe(trend_view.frame(data.breakdown(filters, "location"), "location", names),
             hide_index=True)  # fmt: skip
st.subheader("Per platform")
st.dataframe(trend_view.frame(data.breakdown(filters, "platform"), "platform"), hide_index=True)
st.caption("End of Trends.")
