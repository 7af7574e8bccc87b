"""Durable missions for a local-services marketplace."""
