"""The `missions bench` command's options, checked before any stack starts."""

from __future__ import annotations

from typer.testing import CliRunner

from missions.cli import app


def test_unknown_measurement_rejected() -> None:
    result = CliRunner().invoke(app, ["bench", "--only", "speed"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "unknown measurement speed" in result.output
    assert "throughput, history, latency, catch-up, memory" in result.output


def test_zero_missions_rejected() -> None:
    result = CliRunner().invoke(app, ["bench", "--missions", "0"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "--missions" in result.output
