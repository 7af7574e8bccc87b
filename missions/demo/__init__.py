"""Replay scripted missions through the HTTP API and check how each one ends.

`run_demo` is the entry point for tests; `missions demo` wraps it with the local stack.
"""

from missions.demo.report import DemoReport, MissionOutcome
from missions.demo.runner import DEFAULT_CASES_PATH, DemoError, run_demo
from missions.demo.scenarios import ScenarioError, load_cases, load_providers

__all__ = [
    "DEFAULT_CASES_PATH",
    "DemoError",
    "DemoReport",
    "MissionOutcome",
    "ScenarioError",
    "load_cases",
    "load_providers",
    "run_demo",
]
