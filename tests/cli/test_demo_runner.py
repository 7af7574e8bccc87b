"""The demo runner against a scripted HTTP API: declines, expected errors, failures, output."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from missions.demo.mission_run import DEMO_DURATIONS_SECONDS
from missions.demo.report import Mismatch, MissionOutcome, format_euros, format_outcome
from missions.demo.runner import run_demo
from missions.settings import Settings
from missions.tokens import verify_token

SETTINGS = Settings(jwt_secret="runner-test-secret-0123456789abcdef0123")
MISSION_ID = "mission-0001"


def _view(state: str, **money: int) -> dict[str, Any]:
    return {
        "mission_id": MISSION_ID,
        "state": state,
        "money": {
            "captured_minor": money.get("captured", 0),
            "refunded_minor": 0,
            "provider_payout_minor": money.get("payout", 0),
            "platform_revenue_minor": money.get("platform", 0),
            "declined_attempts": money.get("declined", 0),
        },
        "auto_released": False,
        "payment_lapsed": False,
        "published_reviews": [],
        "applications": [],
    }


class FakeApi:
    """Responds to the demo's requests for one mission that is paid and confirmed."""

    def __init__(self, selection_error: tuple[int, str] | None = None) -> None:
        self.selection_error = selection_error
        self.state = "open"
        self.requests: list[tuple[str, str, str]] = []
        self.bodies: dict[str, Any] = {}

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/readyz":
            return httpx.Response(200, json={"status": "ready", "checks": {}})
        token = request.headers["Authorization"].removeprefix("Bearer ")
        actor = verify_token(SETTINGS, token).actor
        self.requests.append((request.method, path, f"{actor.role.value}:{actor.user_id}"))
        body = json.loads(request.content) if request.content else {}
        self.bodies[path] = body
        return self._route(request.method, path, body)

    def _route(self, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
        if path.startswith("/providers/"):
            return httpx.Response(200, json={"provider_id": path.rsplit("/", 1)[1]})
        if path == "/missions":
            return httpx.Response(201, json=_view("open"))
        if path.endswith("/applications"):
            return httpx.Response(201, json={"application_id": "app-1", "mission": _view("open")})
        if path.endswith("/selection"):
            if self.selection_error:
                status, code = self.selection_error
                return _error(status, code, "selection rejected for the test")
            self.state = "awaiting_payment"
        if path.endswith("/payment/confirmation"):
            if body["payment_method"] == "pm_card_chargeDeclined":
                return _error(402, "card_declined", "Your card was declined.")
            self.state = "funded"
        if path.endswith("/confirmation") and not path.endswith("/payment/confirmation"):
            self.state = "closed"
        if method == "GET" or self.state == "closed":
            funded = self.state in ("funded", "closed")
            return httpx.Response(
                200,
                json=_view(
                    self.state,
                    captured=10500 if funded else 0,
                    payout=9000 if self.state == "closed" else 0,
                    platform=1500 if self.state == "closed" else 0,
                    declined=1,
                ),
            )
        return httpx.Response(200, json=_view(self.state))


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": message, "details": {}})


def _write_case(tmp_path: Path, script: list[dict[str, Any]]) -> Path:
    case = {
        "ref": "porte-lyon",
        "client": "cli-anne",
        "title": "Réparer une porte",
        "description": "La porte frotte.",
        "category": "menuiserie",
        "city": "Lyon",
        "postcode": "69001",
        "scheduled_in_days": 2,
        "currency": "EUR",
        "applications": [{"provider": "pro-marc", "price_minor": 10000, "message": "Dispo."}],
        "script": script,
        "expect": {
            "final_state": "closed",
            "captured_minor": 10500,
            "provider_payout_minor": 9000,
            "platform_revenue_minor": 1500,
            "refunded_minor": 0,
            "reviews_published": 0,
            "declined_attempts": 1,
        },
    }
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps(case) + "\n", encoding="utf-8")
    return path


PAID_SCRIPT: list[dict[str, Any]] = [
    {"do": "select", "application": 0},
    {"do": "pay", "payment_method": "pm_card_chargeDeclined"},
    {"do": "pay", "payment_method": "pm_card_visa"},
    {"do": "request_release", "by": "provider"},
    {"do": "confirm", "by": "client"},
]


async def test_declined_card_counted_not_failed(tmp_path: Path) -> None:
    api = FakeApi()
    seen: list[MissionOutcome] = []
    report = await run_demo(
        _write_case(tmp_path, PAID_SCRIPT),
        None,
        "http://api.test",
        SETTINGS,
        on_outcome=seen.append,
        transport=httpx.MockTransport(api.handle),
        wait_timeout=2,
    )
    assert report.all_matched, format_outcome(report.outcomes[0])
    assert seen == report.outcomes
    assert report.summary() == "1 of 1 missions matched"


async def test_replay_log_names_one_mission(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cases_path = _write_case(tmp_path, PAID_SCRIPT)
    with caplog.at_level(logging.INFO, logger="missions.demo.runner"):
        await run_demo(
            cases_path,
            None,
            "http://api.test",
            SETTINGS,
            transport=httpx.MockTransport(FakeApi().handle),
            wait_timeout=2,
        )
    assert f"replaying 1 mission from {cases_path}" in caplog.messages


async def test_requests_carry_each_party(tmp_path: Path) -> None:
    api = FakeApi()
    await run_demo(
        _write_case(tmp_path, PAID_SCRIPT),
        None,
        "http://api.test",
        SETTINGS,
        transport=httpx.MockTransport(api.handle),
        wait_timeout=2,
    )
    sent = [(method, path, actor) for method, path, actor in api.requests if method != "GET"]
    assert sent[0] == ("PUT", "/providers/pro-marc", "provider:pro-marc")
    assert ("POST", "/missions", "client:cli-anne") in sent
    release = f"/missions/{MISSION_ID}/completion-request"
    assert ("POST", release, "provider:pro-marc") in sent
    assert api.bodies["/missions"]["durations"] == DEMO_DURATIONS_SECONDS
    assert api.bodies[f"/missions/{MISSION_ID}/selection"] == {"application_id": "app-1"}


async def test_unexpected_http_error_fails_mission(tmp_path: Path) -> None:
    api = FakeApi(selection_error=(409, "invalid_state"))
    report = await run_demo(
        _write_case(tmp_path, PAID_SCRIPT),
        None,
        "http://api.test",
        SETTINGS,
        transport=httpx.MockTransport(api.handle),
        wait_timeout=2,
    )
    outcome = report.outcomes[0]
    assert not outcome.matched
    assert outcome.error is not None
    assert "script[0] select failed" in outcome.error
    assert "HTTP 409 invalid_state: selection rejected for the test" in outcome.error
    assert "Traceback" not in format_outcome(outcome)
    assert report.summary() == "0 of 1 missions matched"


async def test_expected_error_lets_script_continue(tmp_path: Path) -> None:
    api = FakeApi(selection_error=(409, "invalid_state"))
    script = [{"do": "select", "application": 0, "expect_error": "invalid_state"}]
    report = await run_demo(
        _write_case(tmp_path, script),
        None,
        "http://api.test",
        SETTINGS,
        transport=httpx.MockTransport(api.handle),
        wait_timeout=0.5,
    )
    outcome = report.outcomes[0]
    assert outcome.error is None
    assert Mismatch("final_state", "closed", "open") in outcome.mismatches


def test_format_euros() -> None:
    assert format_euros(0) == "€0.00"
    assert format_euros(15698) == "€156.98"
    assert format_euros(123456789) == "€1,234,567.89"
    assert format_euros(None) == "?"


def test_format_outcome_lists_mismatches() -> None:
    outcome = MissionOutcome(
        "vitre-nice",
        MISSION_ID,
        _view("open"),
        (Mismatch("final_state", "expired", "open"), Mismatch("captured_minor", 0, 2100)),
    )
    text = format_outcome(outcome)
    assert text.startswith("✗ vitre-nice  open")
    assert "    final_state: expected expired, got open" in text
    assert "    captured_minor: expected €0.00, got €21.00" in text


def test_cli_exit_code_survives_hard_exit() -> None:
    code = (
        "import logging, sys\n"
        "from missions.cli import _exit_without_finalizing\n"
        "print('done', end='')\n"
        "_exit_without_finalizing(3)\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert finished.returncode == 3
    assert finished.stdout == "done"
