"""Fixtures of the adversarial tests: the whole local stack from the end-to-end suite."""

from tests.e2e.conftest import live_stack, stack_settings

__all__ = ["live_stack", "stack_settings"]
