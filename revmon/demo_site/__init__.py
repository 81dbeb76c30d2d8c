"""A local web server that plays review sources from bundled pages, for ``revmon demo``.

The pages follow each platform's documented format (see shared/SOURCES.md), so the demo runs the
real spiders exactly as they run against the real sites.
"""
