"""docs/api.md stays true to the code: the authorization matrix and the problem types."""

from __future__ import annotations

from pathlib import Path

from api.matrix import MATRIX_BEGIN, MATRIX_END, render_matrix
from api.problems import PROBLEM_TYPE_BASE, PROBLEM_TYPES

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_matrix_matches_rules() -> None:
    text = API_DOC.read_text()
    documented = text.split(MATRIX_BEGIN, 1)[1].split(MATRIX_END, 1)[0].strip()

    assert documented == render_matrix(), (
        "docs/api.md is out of date; replace its matrix with the output of "
        "`.venv/bin/python -m api.matrix`"
    )


def test_every_problem_type_is_documented() -> None:
    text = API_DOC.read_text()

    for problem in PROBLEM_TYPES.values():
        slug = problem.uri.removeprefix(PROBLEM_TYPE_BASE)
        row = f"| {problem.status} | `{problem.code}` | `{slug}` | {problem.title} |"
        assert row in text, row
