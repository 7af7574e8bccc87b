"""Provider profiles and payout accounts, mission messages and the outbox listing."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from missions.contracts import Actor, Role
from missions.db.repositories import (
    add_message,
    add_provider_rating,
    get_provider,
    get_provider_payout_account,
    get_provider_row,
    list_messages,
    list_notifications,
    mark_notification_sent,
    project_mission,
    set_provider_stripe_account,
    upsert_provider_profile,
)
from missions.db.repositories.providers import RATING_PRIOR_MEAN
from missions.errors import InvalidInput, MissionNotFound

from .builders import at, make_snapshot, posted_notification, projection

CLIENT = Actor(user_id="client-1", role=Role.CLIENT)
PROVIDER = Actor(user_id="prov-1", role=Role.PROVIDER)


def test_profile_upsert_keeps_account_and_rating(db_sessions: sessionmaker[Session]) -> None:
    with db_sessions.begin() as session:
        created = upsert_provider_profile(
            session,
            "prov-1",
            display_name="Amélie",
            presentation="Plombière à Lyon.",
            photo_url="https://example.test/amelie.jpg",
            email="amelie@example.test",
        )
        set_provider_stripe_account(session, "prov-1", "acct_1", False)
        add_provider_rating(session, "prov-1", 4)
        updated = upsert_provider_profile(session, "prov-1", display_name="Amélie R.")

    assert created.display_name == "Amélie"
    assert created.rating.count == 0
    assert created.rating.average is None
    assert created.rating.score == RATING_PRIOR_MEAN
    assert updated.display_name == "Amélie R."
    assert updated.presentation == ""
    assert updated.photo_url is None
    assert updated.rating.count == 1
    assert updated.rating.average == 4.0
    with db_sessions() as session:
        row = get_provider_row(session, "prov-1")
        assert row is not None
        assert row.email is None
        assert get_provider_payout_account(session, "prov-1") == ("acct_1", False)


def test_public_profile_hides_private_fields(db_sessions: sessionmaker[Session]) -> None:
    with db_sessions.begin() as session:
        upsert_provider_profile(session, "prov-1", display_name="Amélie", email="a@example.test")
        set_provider_stripe_account(session, "prov-1", "acct_1", True)
        profile = get_provider(session, "prov-1")
    assert profile is not None
    assert set(profile.model_dump()) == {
        "provider_id",
        "display_name",
        "presentation",
        "photo_url",
        "rating",
    }


def test_payout_account_states(db_sessions: sessionmaker[Session]) -> None:
    with db_sessions.begin() as session:
        upsert_provider_profile(session, "prov-profile-only", display_name="Sans compte")
        set_provider_stripe_account(session, "prov-account-only", "acct_2", False)
        set_provider_stripe_account(session, "prov-account-only", "acct_2", True)

    with db_sessions() as session:
        assert get_provider_payout_account(session, "prov-unknown") is None
        assert get_provider_payout_account(session, "prov-profile-only") is None
        assert get_provider_payout_account(session, "prov-account-only") == ("acct_2", True)
        stub = get_provider(session, "prov-account-only")
        assert stub is not None
        assert stub.display_name == ""


@pytest.mark.parametrize(
    "fields",
    [
        {"display_name": ""},
        {"display_name": "x" * 121},
        {"display_name": "Amélie", "photo_url": "javascript:alert(1)"},
        {"display_name": "Amélie", "email": "not-an-address"},
    ],
)
def test_invalid_profile_rejected(
    db_sessions: sessionmaker[Session], fields: dict[str, str]
) -> None:
    with db_sessions.begin() as session, pytest.raises(InvalidInput, match="invalid profile"):
        upsert_provider_profile(session, "prov-1", **fields)  # type: ignore[arg-type]


def test_messages_listed_in_order(db_sessions: sessionmaker[Session]) -> None:
    with db_sessions.begin() as session:
        project_mission(session, projection(make_snapshot()))
        add_message(session, "m-1", PROVIDER, "  Le siphon est-il en PVC ?  ", now=at(10))
        add_message(session, "m-1", CLIENT, "Oui, en PVC.", now=at(12))
        add_message(session, "m-1", PROVIDER, "Merci !", now=at(12))

    with db_sessions() as session:
        messages = list_messages(session, "m-1")
        assert list_messages(session, "m-unknown") == []
    assert [(m.author_id, m.author_role, m.text) for m in messages] == [
        ("prov-1", Role.PROVIDER, "Le siphon est-il en PVC ?"),
        ("client-1", Role.CLIENT, "Oui, en PVC."),
        ("prov-1", Role.PROVIDER, "Merci !"),
    ]
    assert messages[0].created_at == at(10)


def test_message_rejections(db_sessions: sessionmaker[Session]) -> None:
    with db_sessions.begin() as session:
        project_mission(session, projection(make_snapshot()))
    with db_sessions() as session:
        with pytest.raises(InvalidInput, match="message text is empty"):
            add_message(session, "m-1", CLIENT, "   ")
        with pytest.raises(InvalidInput, match="the maximum is 2000"):
            add_message(session, "m-1", CLIENT, "a" * 2001)
        with pytest.raises(MissionNotFound, match="mission m-unknown not found"):
            add_message(session, "m-unknown", CLIENT, "Bonjour")


def test_notifications_filtered_and_marked_sent(db_sessions: sessionmaker[Session]) -> None:
    with db_sessions.begin() as session:
        project_mission(
            session,
            projection(
                make_snapshot(),
                notifications=[
                    posted_notification("client-1", key="posted"),
                    posted_notification("client-1", key="posted-copy"),
                    posted_notification("ops-1", key="posted-ops"),
                ],
            ),
        )
        project_mission(
            session, projection(make_snapshot("m-2"), notifications=[posted_notification()])
        )

    with db_sessions.begin() as session:
        for_client = list_notifications(session, mission_id="m-1", recipient_id="client-1")
        assert [n.key for n in for_client] == ["posted", "posted-copy"]
        assert len(list_notifications(session, recipient_id="client-1")) == 3
        assert len(list_notifications(session)) == 4
        assert mark_notification_sent(session, for_client[0].id, now=at(50)) is True
        assert mark_notification_sent(session, for_client[0].id) is False

    with db_sessions() as session:
        unsent = list_notifications(session, mission_id="m-1", unsent_only=True)
        [sent] = list_notifications(session, recipient_id="client-1", mission_id="m-1")[:1]
    assert [n.key for n in unsent] == ["posted-copy", "posted-ops"]
    assert sent.sent_at == at(50)
