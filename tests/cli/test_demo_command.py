"""`missions demo` before any replay: input files checked first, and the server at --api."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from missions.demo import command
from missions.demo.command import run_demo_command
from missions.demo.runner import DEFAULT_CASES_PATH
from missions.settings import Settings

SETTINGS = Settings(jwt_secret="command-test-secret-0123456789abcdef012")
# Only for tests that use `stack_requests`, which fails a test that contacts the API.
UNCONTACTED_API_URL = "http://127.0.0.1:9"


class _QuietFileHandler(SimpleHTTPRequestHandler):
    """Serves files like `python3 -m http.server`, without logging each request."""

    def log_message(self, format: str, *args: object) -> None:
        pass


class _UnavailableApiHandler(BaseHTTPRequestHandler):
    """Serves /readyz like the missions API while Temporal is unreachable."""

    def do_GET(self) -> None:
        body = json.dumps(
            {"status": "unavailable", "checks": {"database": "ok", "temporal": "failed"}}
        ).encode()
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def file_server_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # SimpleHTTPRequestHandler serves the working directory: an empty one has no /readyz.
    served = tmp_path / "served"
    served.mkdir()
    monkeypatch.chdir(served)
    yield from _serve(_QuietFileHandler)


@pytest.fixture
def unavailable_api_url() -> Iterator[str]:
    yield from _serve(_UnavailableApiHandler)


@pytest.fixture
def stack_requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each attempt to find or start a stack, and start none."""
    requested: list[str] = []

    def record(api_url: str, *_args: object) -> None:
        requested.append(api_url)
        raise AssertionError(f"the demo looked for a stack at {api_url}")

    monkeypatch.setattr(command, "_stack_if_needed", record)
    return requested


def _run(
    tmp_path: Path,
    *,
    cases_path: Path = DEFAULT_CASES_PATH,
    providers_path: Path | None = None,
    api_url: str = UNCONTACTED_API_URL,
) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = run_demo_command(
        cases_path=cases_path,
        providers_path=providers_path,
        api_url=api_url,
        settings=SETTINGS,
        data_dir=tmp_path / "data",
        keep_stack=False,
        echo=lines.append,
    )
    return code, lines


def test_missing_providers_file_stops_before_stack(
    tmp_path: Path, stack_requests: list[str]
) -> None:
    providers = tmp_path / "absent-providers.json"
    code, lines = _run(tmp_path, providers_path=providers)
    assert code == 2
    assert lines == [f"error: cannot read {providers}: No such file or directory"]
    assert stack_requests == []


def test_invalid_providers_file_stops_before_stack(
    tmp_path: Path, stack_requests: list[str]
) -> None:
    providers = tmp_path / "providers.json"
    providers.write_text(json.dumps([{"id": "pro-test"}]), encoding="utf-8")
    code, lines = _run(tmp_path, providers_path=providers)
    assert code == 2
    assert lines == [f"error: {providers}: entry 0, field presentation: field required"]
    assert stack_requests == []


def test_providers_beside_cases_checked_first(tmp_path: Path, stack_requests: list[str]) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_bytes(DEFAULT_CASES_PATH.read_bytes())
    providers = tmp_path / "providers.json"
    providers.write_text("{}", encoding="utf-8")
    code, lines = _run(tmp_path, cases_path=cases)
    assert code == 2
    assert lines == [f"error: {providers}: expected a JSON array of providers, got an object"]
    assert stack_requests == []


def test_latin1_cases_file_exits_2(tmp_path: Path, stack_requests: list[str]) -> None:
    cases = tmp_path / "cases.jsonl"
    text = DEFAULT_CASES_PATH.read_text(encoding="utf-8")
    cases.write_bytes(text.encode("latin-1", errors="replace"))
    offset = text.encode("latin-1", errors="replace").index(b"\xe9")
    line = text.encode("latin-1", errors="replace")[:offset].count(b"\n") + 1
    code, lines = _run(tmp_path, cases_path=cases)
    assert code == 2
    assert lines == [
        f"error: {cases} is not UTF-8 text: invalid byte 0xe9 at byte offset {offset} "
        f"(line {line}); save the file as UTF-8"
    ]
    assert stack_requests == []


def test_other_server_at_api_named(tmp_path: Path, file_server_url: str) -> None:
    port = file_server_url.rsplit(":", 1)[1]
    code, lines = _run(tmp_path, api_url=file_server_url)
    assert code == 1
    assert lines == [
        f"error: another server listens at {file_server_url}: GET /readyz returned HTTP 404 "
        "(text/html), not the missions API's readiness report; pass the missions API's "
        f"base URL with --api URL, or free port {port} so that the demo can start a local "
        "stack there"
    ]
    assert not (tmp_path / "data").exists()


def test_unready_api_asks_to_wait(tmp_path: Path, unavailable_api_url: str) -> None:
    code, lines = _run(tmp_path, api_url=unavailable_api_url)
    assert code == 1
    assert lines == [
        f"error: the API at {unavailable_api_url} is not ready: GET /readyz returned HTTP 503 "
        "(database: ok, temporal: failed); wait until it is ready or stop it"
    ]
