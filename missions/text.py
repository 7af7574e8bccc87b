"""Text field types for everything a user types: normalised, and free of control characters.

A NUL byte, for one, is valid JSON but PostgreSQL rejects it in text columns, so it must be
refused at the boundary before it reaches a workflow or the read model. A lone surrogate
(`"\\ud800"` is valid JSON too) cannot be encoded as UTF-8 at all, and the bidirectional
override characters can make a title display as different text (CVE-2021-42574), so both
are refused as well.

NOTE: these types also validate workflow inputs when a history is replayed, so a rule added
here rejects histories that stored such text before the rule existed.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

# Line breaks and tabs are fine inside a paragraph; every other control character is not.
_PARAGRAPH_ALLOWED = frozenset("\n\t")

# Embeddings, overrides and isolates of the Unicode bidirectional algorithm (UAX #9).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _clean(value: str, allowed: frozenset[str]) -> str:
    for position, character in enumerate(value):
        category = unicodedata.category(character)
        if category == "Cc" and character not in allowed:
            raise ValueError(
                f"control character U+{ord(character):04X} at position {position} is not "
                "allowed; remove it"
            )
        if category == "Cs":
            raise ValueError(
                f"lone surrogate U+{ord(character):04X} at position {position} is not valid "
                "Unicode; send the character as a whole UTF-8 sequence"
            )
        if character in BIDI_CONTROLS:
            raise ValueError(
                f"bidirectional control character U+{ord(character):04X} at position "
                f"{position} is not allowed; remove it"
            )
    if value and value.isspace():
        raise ValueError("text is only whitespace; send at least one visible character")
    return unicodedata.normalize("NFC", value)


def _clean_line(value: str) -> str:
    return _clean(value, frozenset())


def _clean_paragraph(value: str) -> str:
    return _clean(value, _PARAGRAPH_ALLOWED)


# One line of text: a title, a city, a category.
Line = Annotated[str, AfterValidator(_clean_line)]
# Free text that may span lines: a description, a message, a review.
Paragraph = Annotated[str, AfterValidator(_clean_paragraph)]
