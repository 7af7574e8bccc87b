"""Ops tools: find the missions that need a person, read their history, act on them."""
