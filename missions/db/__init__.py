"""Database of the missions service: read model, notification outbox and webhook log."""
