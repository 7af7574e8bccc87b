"""Fixtures of the observability tests: the API app of the API tests, on the dev server."""

from tests.api.conftest import api_settings, app, http

__all__ = ["api_settings", "app", "http"]
