"""``python -m revmon.streamlit_main run APP ...``: Streamlit's own command line, started with the
modules the dashboard needs already imported.

Streamlit imports a page's modules when the first visitor arrives; here they load while the
server starts instead, so that first page is not kept waiting for them (about a second on two
cores: the database layer, the queries, Altair for the charts; bench/trends_browser.py).
"""

from __future__ import annotations

import sys


def main() -> None:
    import altair  # noqa: F401  (every st.*_chart builds an Altair spec)
    import pyarrow  # noqa: F401  (every table and chart travels as Arrow)
    from streamlit.web.cli import main as streamlit

    import pipeline.insight_refresh  # noqa: F401
    import pipeline.queries  # noqa: F401
    import revmon.runtime  # noqa: F401

    sys.argv = ["streamlit", *sys.argv[1:]]
    streamlit()


if __name__ == "__main__":
    main()
