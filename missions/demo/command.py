"""`missions demo`: find or start the stack, replay the cases file and print the outcomes."""

from __future__ import annotations

import asyncio
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path

import httpx

from missions.demo.report import format_outcome
from missions.demo.runner import DemoError, replay_scenario
from missions.demo.scenarios import Scenario, ScenarioError, load_scenario
from missions.devstack import (
    DevStack,
    StackConfig,
    StackError,
    StackPorts,
    find_temporal_cli,
    interrupt_on_stop_signals,
    stack_addresses,
)
from missions.settings import Settings

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# The dev server's Web UI listens on its gRPC port plus 1000 unless configured otherwise.
WEB_UI_PORT_OFFSET = 1000

Echo = Callable[[str], None]


def run_demo_command(
    *,
    cases_path: Path,
    providers_path: Path | None,
    api_url: str,
    settings: Settings,
    data_dir: Path,
    keep_stack: bool,
    echo: Echo,
) -> int:
    """Run the demo end to end and return the exit code.

    The code is 0 only if every mission matched, 2 for a missing or invalid cases or
    providers file, found before anything starts, and 1 or 130 when the run failed or
    was interrupted.
    """
    try:
        scenario = load_scenario(cases_path, providers_path)
    except ScenarioError as error:
        echo(f"error: {error}")
        return 2

    with interrupt_on_stop_signals():
        return _run_with_stack(
            scenario=scenario,
            api_url=api_url,
            settings=settings,
            data_dir=data_dir,
            keep_stack=keep_stack,
            echo=echo,
        )


def _run_with_stack(
    *,
    scenario: Scenario,
    api_url: str,
    settings: Settings,
    data_dir: Path,
    keep_stack: bool,
    echo: Echo,
) -> int:
    stack: DevStack | None = None
    try:
        stack = _stack_if_needed(api_url, settings, data_dir, echo)
    except StackError as error:
        echo(f"error: {error}")
        return 1
    except KeyboardInterrupt:
        echo("interrupted while starting the stack; it is stopped")
        return 130

    ref_width = max(len(case.ref) for case in scenario.cases)
    interrupted = False
    try:
        echo(f"replaying the missions of {scenario.cases_path} against {api_url}")
        report = asyncio.run(
            replay_scenario(
                scenario,
                api_url,
                settings,
                on_outcome=lambda outcome: echo(format_outcome(outcome, ref_width)),
            )
        )
        echo(report.summary())
    except DemoError as error:
        echo(f"error: {error}")
        return 1
    except KeyboardInterrupt:
        interrupted = True
        echo("interrupted")
        return 130
    finally:
        if stack is not None:
            _release_stack(stack, keep=keep_stack and not interrupted, echo=echo)

    if stack is None:
        echo(f"Temporal Web UI: {_web_ui_url(settings.temporal_address)}")
        echo(f"closed missions: {_workflow_list_command(settings.temporal_address)}")
    elif keep_stack:
        echo(f"closed missions: {_workflow_list_command(stack.config.temporal_address)}")
    else:
        echo("the stack is stopped; run the demo with --keep-stack to browse its missions")
    return 0 if report.all_matched else 1


def _stack_if_needed(
    api_url: str, settings: Settings, data_dir: Path, echo: Echo
) -> DevStack | None:
    """Return None when an API is ready at `api_url`, or else a stack started for the run.

    Raises StackError when the missions API there is not ready, when another server
    listens there, or when the stack fails to start.
    """
    url = httpx.URL(api_url)
    try:
        response = httpx.get(f"{api_url.rstrip('/')}/readyz", timeout=3.0)
    except httpx.TransportError:
        response = None
    if response is not None:
        checks = _readiness_checks(response)
        if checks is None:
            raise StackError(_other_server_message(api_url, url, response))
        if response.status_code == httpx.codes.OK:
            echo(f"using the API at {api_url}")
            return None
        results = ", ".join(f"{name}: {result}" for name, result in checks.items())
        raise StackError(
            f"the API at {api_url} is not ready: GET /readyz returned HTTP "
            f"{response.status_code} ({results}); wait until it is ready or stop it"
        )
    if url.host not in LOOPBACK_HOSTS:
        raise StackError(
            f"no API responds at {api_url}, and the demo starts a stack only on 127.0.0.1; "
            "start the API there or pass a loopback --api URL"
        )
    port = url.port or 80
    config = StackConfig(data_dir=data_dir.resolve(), ports=StackPorts(api=port))
    echo(f"no API responds at {api_url}; starting a local stack in {config.data_dir}")
    stack = DevStack(settings, config)
    stack.start(echo)
    return stack


def _readiness_checks(response: httpx.Response) -> dict[str, object] | None:
    """Return the checks of the missions API's /readyz body, or None for any other body."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    checks = body.get("checks")
    if body.get("status") not in ("ready", "unavailable") or not isinstance(checks, dict):
        return None
    return checks


def _other_server_message(api_url: str, url: httpx.URL, response: httpx.Response) -> str:
    """Describe a server at `api_url` that is not the missions API, without its body."""
    content_type = response.headers.get("content-type", "").partition(";")[0].strip()
    returned = f"HTTP {response.status_code}" + (f" ({content_type})" if content_type else "")
    message = (
        f"another server listens at {api_url}: GET /readyz returned {returned}, "
        "not the missions API's readiness report; pass the missions API's base URL with "
        "--api URL"
    )
    if url.host in LOOPBACK_HOSTS:
        port = url.port or (443 if url.scheme == "https" else 80)
        message += f", or free port {port} so that the demo can start a local stack there"
    return message


def _release_stack(stack: DevStack, *, keep: bool, echo: Echo) -> None:
    if not keep:
        echo("stopping the local stack")
        stack.stop()
        return
    stack.detach()
    echo("the stack keeps running:")
    for line in stack_addresses(stack.config):
        echo(line)
    echo(f"stop it with: missions stop --data-dir {stack.config.data_dir}")


def _web_ui_url(temporal_address: str) -> str:
    host, _, port = temporal_address.rpartition(":")
    if not port.isdigit():
        return "unknown, because MISSIONS_TEMPORAL_ADDRESS names no port"
    return f"http://{host}:{int(port) + WEB_UI_PORT_OFFSET}"


def _workflow_list_command(temporal_address: str) -> str:
    cli = "temporal" if shutil.which("temporal") else _temporal_cli_or_name()
    query = "\"MissionState='closed'\""
    return f"{shlex.quote(cli)} workflow list --address {temporal_address} --query {query}"


def _temporal_cli_or_name() -> str:
    try:
        return find_temporal_cli()
    except StackError:
        return "temporal"
