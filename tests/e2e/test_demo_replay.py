"""The project's own scenario file, replayed through the HTTP API on the whole stack."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from missions.demo.report import format_outcome
from missions.demo.runner import run_demo
from tests.e2e.conftest import LiveStack

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_project_scenarios_all_match(live_stack: LiveStack) -> None:
    scenarios = Path(str(resources.files("missions") / "scenarios"))
    cases_path = scenarios / "missions.jsonl"
    case_count = len([line for line in cases_path.read_text().splitlines() if line.strip()])

    report = await run_demo(
        cases_path, scenarios / "providers.json", live_stack.api_url, live_stack.settings
    )

    failures = [format_outcome(outcome) for outcome in report.outcomes if not outcome.matched]
    assert failures == []
    assert report.matched == case_count
