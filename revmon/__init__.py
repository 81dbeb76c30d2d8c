"""The app layer: the ``revmon`` command line, the service, the demo and the wiring.

Imports run one way (ARCHITECTURE.md): ``sentiment <- pipeline <- crawlers <- revmon <-
dashboard``. Everything that composes the lower packages into a use case (a crawl of every
configured source, a reply posted through a platform's API, the scheduled service) lives here,
so that ``pipeline`` never needs to know a spider or the dashboard exists.
"""
