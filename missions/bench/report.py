"""Turn a benchmark's figures into the printed summary and the results file."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from missions.bench.history import HistoryCount

# The targets for a full run on a 2-core machine with the embedded dev server.
TARGET_THROUGHPUT_RATIO = 0.8
TARGET_HAPPY_PATH_EVENTS = 100
TARGET_UPDATE_P99_MS = 100.0
TARGET_BYTES_PER_IDLE_MISSION = 50 * 1024
TARGET_CATCH_UP_SECONDS = 30.0


def history_figures(count: HistoryCount) -> dict[str, Any]:
    return {
        "events": count.total_events,
        "events_by_kind": dict(count.events.most_common()),
        "billable_actions": count.total_actions,
        "billable_actions_by_kind": dict(count.actions.most_common()),
    }


def write_results(results: dict[str, Any], results_dir: Path, started_at: datetime) -> Path:
    """Write the results as JSON named after the run's start and mode; return the path."""
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    path = results_dir / f"{stamp}-{results['run']['mode']}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def _kinds(counts: dict[str, float]) -> str:
    return ", ".join(f"{kind} {number}" for kind, number in counts.items())


def format_results(results: dict[str, Any]) -> list[str]:
    """Return the summary lines printed at the end of a run, each figure beside its target."""
    lines: list[str] = []
    run = results["run"]
    machine = results["machine"]
    lines.append(
        f"missions bench ({run['mode']}), {run['started_at']}, {run['duration_seconds']:.0f} s: "
        f"{machine['cpus']} CPUs ({machine['cpu']}), {machine['memory_gib']} GiB, "
        f"Python {machine['python']}, temporalio {machine['temporalio']}"
    )
    lines += _throughput_lines(results.get("throughput"))
    lines += _history_lines(results.get("history"))
    lines += _latency_lines(results.get("latency"))
    lines += _memory_lines(results.get("memory"))
    lines += _catch_up_lines(results.get("catch_up"))
    return lines


def _throughput_lines(figures: dict[str, Any] | None) -> list[str]:
    if not figures:
        return []
    ratio = figures["client_ratio"]
    lines = [
        f"throughput: {figures['missions']} missions per run, {figures['concurrency']} at once, "
        f"{len(figures['rounds'])} round(s), medians:",
        f"  baseline, empty bodies   {figures['baseline_per_second']:7.2f} missions/s",
        f"  via the Temporal client  {figures['client_per_second']:7.2f} missions/s, "
        f"{ratio:.2f} of baseline (target >= {TARGET_THROUGHPUT_RATIO}: "
        f"{_verdict(ratio >= TARGET_THROUGHPUT_RATIO)})",
        f"  via the HTTP API         {figures['http_per_second']:7.2f} missions/s, "
        f"{figures['http_ratio']:.2f} of baseline",
    ]
    for name, run in figures["rounds"][-1].items():
        lines.append(f"  CPU ms per mission, {name}: {_kinds(run['cpu_ms_per_mission'])}")
    failures = figures["failures"]
    if failures:
        lines.append(f"  {failures} mission(s) failed; see the warnings above")
    return lines


def _history_lines(figures: dict[str, Any] | None) -> list[str]:
    if not figures:
        return []
    happy = figures["happy_path"]
    events = happy["events"]
    lines = [
        "history per mission (events, billable actions):",
        f"  happy path, 2 applications and 2 reviews: {events} events (target <= "
        f"{TARGET_HAPPY_PATH_EVENTS}: {_verdict(events <= TARGET_HAPPY_PATH_EVENTS)}), "
        f"{happy['billable_actions']} actions",
        f"    events: {_kinds(happy['events_by_kind'])}",
        f"    actions: {_kinds(happy['billable_actions_by_kind'])}",
    ]
    for path in figures["demo_paths"]:
        lines.append(
            f"  {path['ref']} ({path['state']}): {path['events']} events, "
            f"{path['billable_actions']} actions"
        )
    return lines


def _latency_lines(figures: dict[str, Any] | None) -> list[str]:
    if not figures:
        return []
    lines = [f"API latency with {figures['clients']} concurrent clients, then one:"]
    for kind in ("reads", "updates", "updates_one_client"):
        if kind not in figures:
            continue
        summary = figures[kind]
        line = (
            f"  {kind.replace('_', ' '):18} {summary['requests']:5} requests, "
            f"{summary['errors']} errors: "
            f"p50 {summary['p50_ms']:.1f} ms, p95 {summary['p95_ms']:.1f} ms, "
            f"p99 {summary['p99_ms']:.1f} ms, max {summary['max_ms']:.1f} ms"
        )
        if kind == "updates":
            met = summary["p99_ms"] <= TARGET_UPDATE_P99_MS
            line += f" (target p99 <= {TARGET_UPDATE_P99_MS:.0f} ms: {_verdict(met)})"
        lines.append(line)
        lines.append(f"    CPU ms per request: {_kinds(summary['cpu_ms_per_request'])}")
    return lines


def _memory_lines(figures: dict[str, Any] | None) -> list[str]:
    if not figures:
        return []
    per_mission = figures["per_mission_bytes"]
    met = per_mission <= TARGET_BYTES_PER_IDLE_MISSION
    before_mib = figures["rss_before_bytes"] / 2**20
    after_mib = figures["rss_after_bytes"] / 2**20
    return [
        f"worker memory: {figures['missions']} open missions waiting on timers, RSS "
        f"{before_mib:.1f} -> {after_mib:.1f} MiB",
        f"  {per_mission / 1024:.1f} KiB per mission (target <= "
        f"{TARGET_BYTES_PER_IDLE_MISSION // 1024} KiB with 10,000 open: {_verdict(met)}); "
        f"{figures['per_cached_mission_bytes'] / 1024:.1f} KiB per mission the worker caches "
        f"(at most {figures['workflow_cache_size']})",
    ]


def _catch_up_lines(figures: dict[str, Any] | None) -> list[str]:
    if not figures:
        return []
    done = figures["all_released_at"]
    if done is None:
        outcome = f"only {figures['released']} released before the benchmark gave up"
    else:
        met = done <= TARGET_CATCH_UP_SECONDS
        outcome = (
            f"all released {done:.1f} s after the shared instant (target <= "
            f"{TARGET_CATCH_UP_SECONDS:.0f} s for 1,000: {_verdict(met)})"
        )
    moves = figures["moves_done_at"]
    return [
        f"timer catch-up: {figures['missions']} missions due at one instant: {outcome}",
        f"  deadlines moved {abs(moves):.1f} s {'before' if moves <= 0 else 'AFTER'} the instant; "
        f"first release at {figures['first_release_at'] or 0:.1f} s",
    ]
