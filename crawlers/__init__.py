"""Collection: Scrapy spiders for review and maps sites, httpx clients for official APIs.

Everything here yields :class:`crawlers.items.ReviewItem`, the one shape for every source.
"""
