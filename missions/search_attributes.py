"""The search attributes every mission carries, so ops can filter in the Temporal Web UI.

None of them contains personal data, because Temporal stores them unencrypted: ids, state,
category and amount only.
"""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
)
from temporalio.service import RPCError, RPCStatusCode

from missions.contracts import MissionInput

MISSION_STATE = SearchAttributeKey.for_keyword("MissionState")
MISSION_CATEGORY = SearchAttributeKey.for_keyword("MissionCategory")
CLIENT_ID = SearchAttributeKey.for_keyword("ClientId")
PROVIDER_ID = SearchAttributeKey.for_keyword("ProviderId")
AMOUNT_MINOR = SearchAttributeKey.for_int("AmountMinor")
NEEDS_ATTENTION = SearchAttributeKey.for_bool("NeedsAttention")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")

ALL_KEYS: tuple[SearchAttributeKey[Any], ...] = (
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


async def register(client: Client, namespace: str) -> list[str]:
    """Register the attributes missing from the namespace and return their names."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        existing = set(listed.custom_attributes)
    except RPCError as error:
        # The time-skipping test server cannot list attributes but accepts additions.
        if error.status is not RPCStatusCode.UNIMPLEMENTED:
            raise
        existing = set()
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type.value)
        for key in ALL_KEYS
        if key.name not in existing
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)
