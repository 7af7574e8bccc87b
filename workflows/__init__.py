"""Temporal workflows. Modules here import nothing that performs I/O."""
