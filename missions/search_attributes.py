"""The search attributes every mission carries, so ops can filter in the Temporal Web UI.

None of them holds personal data, because Temporal stores them unencrypted: ids, state,
category and amount only.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from missions.contracts import MissionInput

MISSION_STATE = SearchAttributeKey.for_keyword("MissionState")
MISSION_CATEGORY = SearchAttributeKey.for_keyword("MissionCategory")
CLIENT_ID = SearchAttributeKey.for_keyword("ClientId")
PROVIDER_ID = SearchAttributeKey.for_keyword("ProviderId")
AMOUNT_MINOR = SearchAttributeKey.for_int("AmountMinor")
NEEDS_ATTENTION = SearchAttributeKey.for_bool("NeedsAttention")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")

ALL_KEYS: tuple[SearchAttributeKey, ...] = (  # type: ignore[type-arg]
    MISSION_STATE,
    MISSION_CATEGORY,
    CLIENT_ID,
    PROVIDER_ID,
    AMOUNT_MINOR,
    NEEDS_ATTENTION,
    NEXT_DEADLINE,
)


def initial(data: MissionInput) -> TypedSearchAttributes:
    """Return the attributes a mission starts with."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(MISSION_STATE, "open"),
            SearchAttributePair(MISSION_CATEGORY, data.request.category),
            SearchAttributePair(CLIENT_ID, data.client_id),
            SearchAttributePair(NEEDS_ATTENTION, False),
        ]
    )
