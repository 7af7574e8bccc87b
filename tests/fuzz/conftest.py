"""Fixtures of the fuzz tests: the live app of the API tests."""

from tests.api.conftest import live

__all__ = ["live"]
