"""Parsing and validation of the demo's cases and providers files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from missions.contracts import TERMINAL_STATES, MissionState
from missions.demo.runner import DEFAULT_CASES_PATH
from missions.demo.scenarios import (
    MissionCase,
    ScenarioError,
    find_providers_file,
    load_cases,
    load_providers,
)

PROJECT_PROVIDERS = DEFAULT_CASES_PATH.parent / "providers.json"


def _case(**overrides: Any) -> dict[str, Any]:
    case: dict[str, Any] = {
        "ref": "test-case",
        "client": "cli-test",
        "title": "Réparer une porte",
        "description": "La porte frotte.",
        "category": "menuiserie",
        "city": "Lyon",
        "postcode": "69001",
        "scheduled_in_days": 2,
        "currency": "EUR",
        "applications": [{"provider": "pro-test", "price_minor": 5000, "message": "Dispo."}],
        "script": [{"do": "select", "application": 0}],
        "expect": {
            "final_state": "closed",
            "captured_minor": 0,
            "provider_payout_minor": 0,
            "platform_revenue_minor": 0,
            "refunded_minor": 0,
            "reviews_published": 0,
        },
    }
    case.update(overrides)
    return case


def _write_lines(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _load_error(path: Path) -> str:
    with pytest.raises(ScenarioError) as raised:
        load_cases(path)
    return str(raised.value)


@pytest.fixture(scope="module")
def project_cases() -> list[MissionCase]:
    return load_cases(DEFAULT_CASES_PATH)


def test_project_cases_parse(project_cases: list[MissionCase]) -> None:
    refs = [case.ref for case in project_cases]
    assert len(refs) >= 13
    assert len(set(refs)) == len(refs)


def test_project_cases_use_every_step(project_cases: list[MissionCase]) -> None:
    used = {step.do for case in project_cases for step in case.script}
    expected = {
        "select",
        "pay",
        "request_release",
        "confirm",
        "dispute",
        "resolve",
        "incident",
        "cancel",
        "withdraw_application",
        "message",
        "review",
        "wait",
    }
    assert expected <= used


def test_project_cases_reach_every_end(project_cases: list[MissionCase]) -> None:
    final_states = {case.expect.final_state for case in project_cases}
    assert final_states >= set(TERMINAL_STATES)
    assert any(case.expect.auto_released for case in project_cases)
    assert any(case.expect.payment_lapsed for case in project_cases)
    assert any(case.expect.declined_attempts == 2 for case in project_cases)


def test_project_cases_cover_every_path(project_cases: list[MissionCase]) -> None:
    by_ref = {case.ref: case for case in project_cases}
    closed_review_counts = {
        case.expect.reviews_published
        for case in project_cases
        if case.expect.final_state is MissionState.CLOSED
    }
    assert closed_review_counts == {0, 1, 2}
    ops_disputes = [
        case
        for case in project_cases
        if any(step.do == "dispute" and getattr(step, "by", "") == "ops" for step in case.script)
    ]
    assert ops_disputes
    provider_cancels = [
        case
        for case in project_cases
        if any(
            step.do == "cancel" and getattr(step, "by", "") == "provider" for step in case.script
        )
    ]
    assert provider_cancels
    late = [case for case in by_ref.values() if (case.scheduled_in_days or 99) < 1]
    assert late, "no case falls within the 24 h late-cancellation window"


def test_project_providers_cover_applicants(project_cases: list[MissionCase]) -> None:
    providers = load_providers(PROJECT_PROVIDERS)
    known = {provider.id for provider in providers}
    applicants = {provider for case in project_cases for provider in case.provider_ids}
    assert applicants <= known


def test_providers_file_found_beside_cases() -> None:
    assert find_providers_file(DEFAULT_CASES_PATH) == PROJECT_PROVIDERS


def test_providers_file_absent(tmp_path: Path) -> None:
    assert find_providers_file(tmp_path / "cases.jsonl") is None


def test_blank_lines_skipped(tmp_path: Path) -> None:
    path = _write_lines(tmp_path, "", json.dumps(_case()), "   ")
    assert [case.ref for case in load_cases(path)] == ["test-case"]


def test_missing_field_names_line_and_field(tmp_path: Path) -> None:
    bad = _case(script=[{"do": "pay"}])
    path = _write_lines(tmp_path, json.dumps(_case(ref="first")), "", json.dumps(bad))
    message = _load_error(path)
    assert "line 3" in message
    assert "script[0].pay.payment_method" in message
    assert "field required" in message


def test_unknown_field_rejected(tmp_path: Path) -> None:
    path = _write_lines(tmp_path, json.dumps(_case(sheduled_in_days=3)))
    assert _load_error(path) == f"{path}, line 1: unknown field 'sheduled_in_days'"


def test_misspelled_field_named_before_missing(tmp_path: Path) -> None:
    misspelled = _case(ville="Lyon")
    del misspelled["city"]
    path = _write_lines(
        tmp_path,
        json.dumps(_case(ref="first")),
        json.dumps(_case(ref="second")),
        json.dumps(misspelled),
    )
    assert _load_error(path) == f"{path}, line 3: unknown field 'ville'; field city: field required"


def test_misspelled_step_field_named_first(tmp_path: Path) -> None:
    script = [{"do": "pay", "methode": "pm_card_visa"}]
    path = _write_lines(tmp_path, json.dumps(_case(script=script)))
    assert _load_error(path) == (
        f"{path}, line 1: unknown field 'script[0].pay.methode'; "
        "field script[0].pay.payment_method: field required"
    )


def test_several_unknown_fields_counted(tmp_path: Path) -> None:
    path = _write_lines(tmp_path, json.dumps(_case(ville="Lyon", pays="FR")))
    assert _load_error(path) == f"{path}, line 1: unknown field 'ville' (and 1 more error)"


def test_json_array_line_rejected(tmp_path: Path) -> None:
    path = _write_lines(tmp_path, json.dumps([_case(ref="first"), _case(ref="second")]))
    assert _load_error(path) == (f"{path}, line 1: expected one JSON object per line, got an array")


def test_pretty_printed_array_rejected(tmp_path: Path) -> None:
    path = _write_lines(tmp_path, "[", json.dumps(_case()), "]")
    assert _load_error(path) == (f"{path}, line 1: expected one JSON object per line, got an array")


def test_json_string_line_rejected(tmp_path: Path) -> None:
    path = _write_lines(tmp_path, '"porte-lyon"')
    assert _load_error(path) == (f"{path}, line 1: expected one JSON object per line, got a string")


def test_unknown_step_rejected(tmp_path: Path) -> None:
    path = _write_lines(tmp_path, json.dumps(_case(script=[{"do": "teleport"}])))
    message = _load_error(path)
    assert "line 1" in message
    assert "script[0]" in message
    assert "teleport" in message


def test_invalid_state_rejected(tmp_path: Path) -> None:
    script = [{"do": "wait", "until_state": "finished"}]
    path = _write_lines(tmp_path, json.dumps(_case(script=script)))
    message = _load_error(path)
    assert "script[0].wait.until_state" in message


def test_invalid_postcode_rejected(tmp_path: Path) -> None:
    path = _write_lines(tmp_path, json.dumps(_case(postcode="6900")))
    assert "field postcode" in _load_error(path)


def test_application_index_out_of_range(tmp_path: Path) -> None:
    path = _write_lines(tmp_path, json.dumps(_case(script=[{"do": "select", "application": 1}])))
    message = _load_error(path)
    assert "line 1" in message
    assert "names application 1" in message
    assert "1 application(s)" in message


def test_invalid_json_names_line(tmp_path: Path) -> None:
    path = _write_lines(tmp_path, json.dumps(_case()), '{"ref": "broken",')
    assert _load_error(path) == (
        f"{path}, line 2: invalid JSON: EOF while parsing a value at column 17"
    )


def test_duplicate_ref_rejected(tmp_path: Path) -> None:
    path = _write_lines(tmp_path, json.dumps(_case()), json.dumps(_case()))
    message = _load_error(path)
    assert "line 2" in message
    assert "already used on line 1" in message


def test_empty_file_rejected(tmp_path: Path) -> None:
    path = _write_lines(tmp_path, "")
    assert "contains no mission" in _load_error(path)


def test_missing_file_rejected(tmp_path: Path) -> None:
    assert "cannot read" in _load_error(tmp_path / "absent.jsonl")


def test_latin1_cases_rejected(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    line = json.dumps(_case(), ensure_ascii=False)
    path.write_bytes(f"{line}\n".encode("latin-1"))
    offset = line.encode("latin-1").index(b"\xe9")
    assert _load_error(path) == (
        f"{path} is not UTF-8 text: invalid byte 0xe9 at byte offset {offset} (line 1); "
        "save the file as UTF-8"
    )


def test_latin1_offset_counts_bom_and_lines(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    first = json.dumps(_case(ref="first"))
    path.write_bytes(b"\xef\xbb\xbf" + first.encode() + b"\n" + b'{"ref": "caf\xe9"}\n')
    offset = 3 + len(first) + 1 + len(b'{"ref": "caf')
    assert _load_error(path) == (
        f"{path} is not UTF-8 text: invalid byte 0xe9 at byte offset {offset} (line 2); "
        "save the file as UTF-8"
    )


def test_utf16_cases_rejected(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps(_case()) + "\n", encoding="utf-16")
    assert _load_error(path) == (
        f"{path} is not UTF-8 text: it starts with a UTF-16 byte order mark "
        "(byte offset 0); save the file as UTF-8"
    )


def test_utf8_bom_accepted(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps(_case(), ensure_ascii=False) + "\n", encoding="utf-8-sig")
    assert [case.title for case in load_cases(path)] == ["Réparer une porte"]


def test_providers_utf8_bom_accepted(tmp_path: Path) -> None:
    path = tmp_path / "providers.json"
    entry = {"id": "pro-test", "presentation": "Menuisier à Lyon."}
    path.write_text(json.dumps([entry], ensure_ascii=False), encoding="utf-8-sig")
    assert [provider.presentation for provider in load_providers(path)] == ["Menuisier à Lyon."]


def test_latin1_providers_rejected(tmp_path: Path) -> None:
    path = tmp_path / "providers.json"
    content = b'[\n  {"id": "pro-test", "presentation": "Menuisier \xe0 Lyon."}\n]\n'
    path.write_bytes(content)
    offset = content.index(b"\xe0")
    with pytest.raises(ScenarioError) as raised:
        load_providers(path)
    assert str(raised.value) == (
        f"{path} is not UTF-8 text: invalid byte 0xe0 at byte offset {offset} (line 2); "
        "save the file as UTF-8"
    )


def test_providers_invalid_json_keeps_line(tmp_path: Path) -> None:
    path = tmp_path / "providers.json"
    path.write_text('[\n  {"id": "a", "presentation": "x"},\n]\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as raised:
        load_providers(path)
    assert str(raised.value) == f"{path}: invalid JSON: trailing comma at line 3 column 1"


def test_providers_object_rejected(tmp_path: Path) -> None:
    path = tmp_path / "providers.json"
    path.write_text(json.dumps({"id": "a", "presentation": "x"}), encoding="utf-8")
    with pytest.raises(ScenarioError) as raised:
        load_providers(path)
    assert str(raised.value) == f"{path}: expected a JSON array of providers, got an object"


def test_providers_entry_error_names_index(tmp_path: Path) -> None:
    path = tmp_path / "providers.json"
    path.write_text(json.dumps([{"id": "a", "presentation": "x"}, {"id": "b"}]), encoding="utf-8")
    with pytest.raises(ScenarioError) as raised:
        load_providers(path)
    assert "entry 1" in str(raised.value)
    assert "field presentation" in str(raised.value)


def test_providers_duplicate_id_rejected(tmp_path: Path) -> None:
    path = tmp_path / "providers.json"
    entry = {"id": "a", "presentation": "x"}
    path.write_text(json.dumps([entry, entry]), encoding="utf-8")
    with pytest.raises(ScenarioError, match="listed twice"):
        load_providers(path)
