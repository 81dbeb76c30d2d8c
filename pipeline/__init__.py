"""The service side: storage, ingestion, scoring runs, triage and alerts, and the `revmon` CLI."""
