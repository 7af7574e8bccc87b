"""Repository functions: each takes a `Session` and leaves committing to the caller."""

from missions.db.repositories.ledger import (
    account_balances,
    ledger_mission_ids,
    list_ledger_entries,
    record_chargeback_after_end,
    record_ledger_entries,
)
from missions.db.repositories.messages import MissionMessage, add_message, list_messages
from missions.db.repositories.mission_list import (
    MissionPage,
    MissionSummary,
    get_mission_row,
    get_mission_snapshot,
    list_missions,
)
from missions.db.repositories.outbox import (
    OutboxNotification,
    list_notifications,
    mark_notification_sent,
    queue_notifications,
)
from missions.db.repositories.projection import ProjectionResult, project_mission
from missions.db.repositories.providers import (
    ProviderProfile,
    ProviderProfileUpdate,
    RatingSummary,
    add_provider_rating,
    get_provider,
    get_provider_payout_account,
    get_provider_row,
    get_rating_summaries,
    rating_score,
    set_payouts_enabled_for_account,
    set_provider_stripe_account,
    upsert_provider_profile,
)
from missions.db.repositories.reviews import (
    PublishedReview,
    PublishResult,
    list_reviews,
    publish_reviews,
)
from missions.db.repositories.webhook_events import (
    is_webhook_event_processed,
    mark_webhook_event_processed,
    record_webhook_event,
)

__all__ = [
    "MissionMessage",
    "MissionPage",
    "MissionSummary",
    "OutboxNotification",
    "ProjectionResult",
    "ProviderProfile",
    "ProviderProfileUpdate",
    "PublishResult",
    "PublishedReview",
    "RatingSummary",
    "account_balances",
    "add_message",
    "add_provider_rating",
    "get_mission_row",
    "get_mission_snapshot",
    "get_provider",
    "get_provider_payout_account",
    "get_provider_row",
    "get_rating_summaries",
    "is_webhook_event_processed",
    "ledger_mission_ids",
    "list_ledger_entries",
    "list_messages",
    "list_missions",
    "list_notifications",
    "list_reviews",
    "mark_notification_sent",
    "mark_webhook_event_processed",
    "project_mission",
    "publish_reviews",
    "queue_notifications",
    "rating_score",
    "record_chargeback_after_end",
    "record_ledger_entries",
    "record_webhook_event",
    "set_payouts_enabled_for_account",
    "set_provider_stripe_account",
    "upsert_provider_profile",
]
