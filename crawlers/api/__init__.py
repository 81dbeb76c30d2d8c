"""Official API clients (httpx, async): one module per platform, shared policy in ``base``.

``collect.collect`` runs one client for one target and stores what it yields; ``replies``
posts a business's answer back where the platform has an API for it.
"""
