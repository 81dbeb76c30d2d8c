"""Scrapy settings for revmon's spiders: polite by default (robots.txt, AutoThrottle, honest UA).

``revmon crawl`` overrides a few of these from revmon's own settings (user agent, robots, Redis);
``scrapy crawl`` from the repository root uses them as they are.
"""

import os

from crawlers.items import ReviewItem  # noqa: F401  (the item contract every spider yields)
from pipeline.config import DEFAULT_USER_AGENT

BOT_NAME = "revmon"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

USER_AGENT = os.environ.get("REVMON_USER_AGENT", DEFAULT_USER_AGENT)
ROBOTSTXT_OBEY = os.environ.get("REVMON_OBEY_ROBOTS", "true").lower() not in {"0", "false", "no"}

CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 2
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 30

RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# Retries wait 1, 2, 4 s.. (or the server's Retry-After); captcha pages count as blocked.
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawlers.middlewares.BackoffRetryMiddleware": 550,
    "crawlers.middlewares.BlockedPageMiddleware": 650,  # before redirects: sees /showcaptcha 302s
}
REVMON_RETRY_BACKOFF_BASE = 1.0
REVMON_RETRY_BACKOFF_MAX = 60.0
REVMON_RETRY_AFTER_MAX = 600.0

ITEM_PIPELINES = {"crawlers.pipelines.ReviewStorePipeline": 300}
# Where the store pipeline writes: None means revmon's configured database (REVMON_DATABASE_URL or
# the embedded SQLite file). REVMON_STORE=False turns storage off, e.g. for `scrapy crawl -O`.
REVMON_DATABASE_URL = os.environ.get("REVMON_DATABASE_URL")
REVMON_STORE = True

# Distributed mode: with a Redis URL, processes on several machines share queue and dupefilter.
REVMON_REDIS_URL = os.environ.get("REVMON_REDIS_URL")
# A page fetched by any process is not fetched again for this long (keep it < crawl interval).
REVMON_REDIS_DEDUP_SECONDS = float(os.environ.get("REVMON_REDIS_DEDUP_SECONDS", "3600"))
ADDONS = {"crawlers.distributed.DistributedAddon": 0}
# Items are committed in batches of this size, or a second after the last commit.
REVMON_BATCH_SIZE = 100
REVMON_FLUSH_SECONDS = 1.0
# A `running` crawl run without a heartbeat for this long belonged to a process that died.
REVMON_RUN_STALE_SECONDS = float(os.environ.get("REVMON_RUN_STALE_SECONDS", "180"))

# Spiders fetch web pages only: a crawled page must not be able to point them at local files,
# inline data or other protocols (Scrapy would otherwise fetch file://, data:, s3:// and ftp://).
DOWNLOAD_HANDLERS = {"file": None, "data": None, "s3": None, "ftp": None}

FEED_EXPORT_ENCODING = "utf-8"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
LOG_LEVEL = os.environ.get("REVMON_LOG_LEVEL", "INFO")
