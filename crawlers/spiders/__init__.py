"""One spider per platform; the module name is the spider name. Navigation only: parsing lives
in ``crawlers.parsers`` and storage in ``crawlers.pipelines``."""
