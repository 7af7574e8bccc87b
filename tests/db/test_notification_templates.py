"""Rendering of the French and English notification templates."""

from __future__ import annotations

import pytest

from missions.notifications import TEMPLATES, format_amount, format_datetime, render

ALL_PARAMS: dict[str, str | int] = {
    "title": "Poser une étagère",
    "mission_id": "m-42",
    "currency": "EUR",
    "provider_id": "prov-1",
    "price_minor": 7875,
    "amount_minor": 7875,
    "refund_minor": 2500,
    "release_minor": 5375,
    "deadline": "2025-04-14T16:00:00+00:00",
    "decline_code": "insufficient_funds",
    "reason": "compte de paiement incomplet",
    "kind": "missing_part",
    "text": "Il manque une vis.",
    "count": 2,
}

PAYMENT_PARAMS: dict[str, str | int] = {
    "title": "Poser une étagère",
    "mission_id": "m-42",
    "amount_minor": 7875,
    "currency": "EUR",
}


@pytest.mark.parametrize(
    ("amount_minor", "locale", "expected"),
    [
        (7875, "fr", "78,75 €"),
        (7875, "en", "€78.75"),
        (5, "fr", "0,05 €"),
        (5, "en", "€0.05"),
        (123456789, "fr", "1 234 567,89 €"),
        (123456789, "en", "€1,234,567.89"),
        (-2500, "fr", "-25,00 €"),
    ],
)
def test_format_amount(amount_minor: int, locale: str, expected: str) -> None:
    assert format_amount(amount_minor, "EUR", locale) == expected


def test_amount_rendered_per_locale() -> None:
    _, french = render("payment_requested", "fr", PAYMENT_PARAMS)
    _, english = render("payment_requested", "en", PAYMENT_PARAMS)
    assert "veuillez régler 78,75 €." in french
    assert "please pay €78.75." in english


def test_full_french_and_english_text() -> None:
    assert render("mission_funded", "fr", PAYMENT_PARAMS) == (
        "Mission « Poser une étagère » confirmée",
        "Bonjour,\n\n"
        "Le paiement de 78,75 € pour la mission « Poser une étagère » est confirmé. "
        "La mission peut commencer : le prestataire sera payé une fois la prestation "
        "terminée et confirmée.\n\n"
        "Référence de la mission : m-42",
    )
    assert render("mission_funded", "en", PAYMENT_PARAMS) == (
        "Mission “Poser une étagère” confirmed",
        "Hello,\n\n"
        "The payment of €78.75 for the mission “Poser une étagère” is confirmed. "
        "The mission can begin: the provider will be paid once the job is done and "
        "confirmed.\n\n"
        "Mission reference: m-42",
    )


@pytest.mark.parametrize(
    ("value", "locale", "expected"),
    [
        ("2025-04-14T16:00:00+00:00", "fr", "lundi 14 avril 2025 à 18:00 (heure de Paris)"),
        ("2025-04-14T16:00:00+00:00", "en", "Monday 14 April 2025 at 18:00 (Paris time)"),
        ("2025-01-05T23:30:00Z", "fr", "lundi 6 janvier 2025 à 00:30 (heure de Paris)"),
        ("2025-01-05T23:30:00", "en", "Monday 6 January 2025 at 00:30 (Paris time)"),
    ],
)
def test_format_datetime(value: str, locale: str, expected: str) -> None:
    assert format_datetime(value, locale) == expected


@pytest.mark.parametrize("locale", ["fr", "en"])
@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_template_renders(template: str, locale: str) -> None:
    subject, body = render(template, locale, ALL_PARAMS)
    assert "Poser une étagère" in subject
    assert "Poser une étagère" in body
    assert body.endswith("m-42")
    for text in (subject, body):
        assert "{" not in text
        assert "}" not in text


def test_derived_parameters() -> None:
    _, declined_fr = render("payment_declined", "fr", ALL_PARAMS)
    _, declined_en = render("payment_declined", "en", {**ALL_PARAMS, "decline_code": "weird"})
    _, incident = render("incident_reported", "fr", ALL_PARAMS)
    _, published_fr = render("reviews_published", "fr", {**ALL_PARAMS, "count": 1})
    _, published_en = render("reviews_published", "en", {**ALL_PARAMS, "count": 1})
    _, resolved = render("dispute_resolved", "en", ALL_PARAMS)
    _, reminder = render("confirmation_reminder", "fr", ALL_PARAMS)
    assert "a été refusé (provision insuffisante)." in declined_fr
    assert "was declined (decline code: weird)." in declined_en
    assert "(pièce manquante) :\nIl manque une vis." in incident
    assert "sont publiés (1 avis)." in published_fr
    assert "are now published (1 review)." in published_en
    assert "Refunded to the client: €25.00\nPaid to the provider: €53.75" in resolved
    assert "avant le lundi 14 avril 2025 à 18:00 (heure de Paris)," in reminder


def test_unknown_template_rejected() -> None:
    with pytest.raises(ValueError, match="unknown notification template 'party_invite'"):
        render("party_invite", "fr", ALL_PARAMS)


def test_unknown_locale_rejected() -> None:
    with pytest.raises(ValueError, match="unsupported notification locale 'de'; use one of fr, en"):
        render("mission_posted", "de", ALL_PARAMS)


def test_missing_parameters_rejected() -> None:
    with pytest.raises(ValueError, match="is missing parameters: amount_minor, currency"):
        render("funds_released", "fr", {"title": "Poser une étagère", "mission_id": "m-42"})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"amount_minor": "douze", "currency": "EUR"}, "amount parameter amount_minor must be"),
        ({"amount_minor": 100, "currency": "USD"}, "cannot format amounts in currency 'USD'"),
        ({"deadline": "demain"}, "invalid ISO 8601 datetime parameter 'demain'"),
    ],
)
def test_invalid_values_rejected(params: dict[str, str | int], message: str) -> None:
    template = "review_reminder" if "deadline" in params else "funds_released"
    with pytest.raises(ValueError, match=message):
        render(template, "en", {"title": "Poser une étagère", "mission_id": "m-42", **params})
