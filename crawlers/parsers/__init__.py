"""Pure page parsers: a Scrapy response in, review items and page facts out (one module per site).

Parsers never fetch and never touch the database, so each one is tested on a saved page alone;
spiders in ``crawlers.spiders`` decide what to fetch next from the facts a parser returns.
"""
