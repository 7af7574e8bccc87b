"""Temporal activities: every side effect of a mission workflow."""
