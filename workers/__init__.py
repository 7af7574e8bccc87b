"""Temporal workers that run mission workflows and their activities."""
