"""Text field types for everything a user types: normalised, and free of control characters.

A NUL byte, for one, is valid JSON but PostgreSQL rejects it in text columns, so it must be
refused at the boundary before it reaches a workflow or the read model.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

# Line breaks and tabs are fine inside a paragraph; every other control character is not.
_PARAGRAPH_ALLOWED = frozenset("\n\t")


def _clean(value: str, allowed: frozenset[str]) -> str:
    for position, character in enumerate(value):
        if unicodedata.category(character) == "Cc" and character not in allowed:
            raise ValueError(
                f"control character U+{ord(character):04X} at position {position} is not "
                "allowed; remove it"
            )
    return unicodedata.normalize("NFC", value)


def _clean_line(value: str) -> str:
    return _clean(value, frozenset())


def _clean_paragraph(value: str) -> str:
    return _clean(value, _PARAGRAPH_ALLOWED)


# One line of text: a title, a city, a category.
Line = Annotated[str, AfterValidator(_clean_line)]
# Free text that may span lines: a description, a message, a review.
Paragraph = Annotated[str, AfterValidator(_clean_paragraph)]
