"""The whole local stack, shared with the end-to-end tests."""

from tests.e2e.conftest import live_stack, stack_settings

__all__ = ["live_stack", "stack_settings"]
