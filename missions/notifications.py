"""Notification templates in French (the default) and English, and their rendering.

Every template receives `title` and `mission_id` besides its own parameters. Parameters
whose name ends in `_minor` are amounts in minor units of the `currency` parameter, and
`deadline` is an ISO 8601 datetime. The rendered text shows them under the name without
the suffix (`amount_minor` becomes `{amount}`), formatted for the locale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

DEFAULT_LOCALE = "fr"
SUPPORTED_LOCALES = ("fr", "en")

# The marketplace serves France, so times are shown in Paris time whatever the locale.
DISPLAY_TIME_ZONE = ZoneInfo("Europe/Paris")

COMMON_PARAMS = ("title", "mission_id")
DATETIME_PARAMS = frozenset({"deadline"})
AMOUNT_SUFFIX = "_minor"

# Symbol and number of decimal places of each currency that amounts can be rendered in.
CURRENCY_FORMATS: dict[str, tuple[str, int]] = {"EUR": ("€", 2)}

ParamValue = str | int


@dataclass(frozen=True)
class Template:
    """A notification's parameters and its subject and body in each supported locale."""

    params: tuple[str, ...]
    # Locale to (subject, body). Placeholders name the formatted parameters.
    texts: Mapping[str, tuple[str, str]]


GREETING = {"fr": "Bonjour,", "en": "Hello,"}
REFERENCE_LINE = {
    "fr": "Référence de la mission : {mission_id}",
    "en": "Mission reference: {mission_id}",
}

MONTHS = {
    "fr": (
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}
WEEKDAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}

INCIDENT_KINDS = {
    "fr": {
        "delay": "retard",
        "damage": "dommage",
        "missing_part": "pièce manquante",
        "other": "autre",
    },
    "en": {
        "delay": "delay",
        "damage": "damage",
        "missing_part": "missing part",
        "other": "other",
    },
}

# Stripe decline codes worth explaining to a client. Other codes are shown as they are.
DECLINE_REASONS = {
    "fr": {
        "insufficient_funds": "provision insuffisante",
        "expired_card": "carte expirée",
        "incorrect_cvc": "code de sécurité incorrect",
        "incorrect_number": "numéro de carte incorrect",
        "lost_card": "carte déclarée perdue",
        "stolen_card": "carte déclarée volée",
        "card_velocity_exceeded": "plafond de la carte atteint",
        "generic_decline": "refus de votre banque",
        "do_not_honor": "refus de votre banque",
    },
    "en": {
        "insufficient_funds": "insufficient funds",
        "expired_card": "expired card",
        "incorrect_cvc": "incorrect security code",
        "incorrect_number": "incorrect card number",
        "lost_card": "card reported lost",
        "stolen_card": "card reported stolen",
        "card_velocity_exceeded": "card limit reached",
        "generic_decline": "declined by your bank",
        "do_not_honor": "declined by your bank",
    },
}
UNKNOWN_DECLINE_REASON = {"fr": "code de refus : {code}", "en": "decline code: {code}"}

TEMPLATES: dict[str, Template] = {
    "mission_posted": Template(
        params=(),
        texts={
            "fr": (
                "Votre demande « {title} » est publiée",
                "Votre demande « {title} » est désormais visible par les prestataires. "
                "Nous vous préviendrons dès qu'une candidature arrivera.",
            ),
            "en": (
                "Your request “{title}” is live",
                "Your request “{title}” is now visible to providers. "
                "We will let you know as soon as an application arrives.",
            ),
        },
    ),
    "application_received": Template(
        params=("provider_id", "price_minor"),
        texts={
            "fr": (
                "Nouvelle candidature pour « {title} »",
                "Un prestataire a répondu à votre demande « {title} » pour un prix de {price}. "
                "Consultez sa proposition et son profil pour faire votre choix.",
            ),
            "en": (
                "New application for “{title}”",
                "A provider has applied to your request “{title}” for {price}. "
                "Review their offer and profile to make your choice.",
            ),
        },
    ),
    "application_withdrawn": Template(
        params=("provider_id",),
        texts={
            "fr": (
                "Une candidature a été retirée pour « {title} »",
                "Un prestataire a retiré sa candidature à votre demande « {title} ». "
                "Les autres candidatures restent valables.",
            ),
            "en": (
                "An application for “{title}” was withdrawn",
                "A provider has withdrawn their application to your request “{title}”. "
                "The other applications are still open.",
            ),
        },
    ),
    "application_selected": Template(
        params=("price_minor",),
        texts={
            "fr": (
                "Votre candidature est retenue pour « {title} »",
                "Bonne nouvelle : le client a retenu votre candidature pour « {title} » "
                "au prix de {price}. Nous vous confirmerons la mission dès réception "
                "de son paiement.",
            ),
            "en": (
                "Your application for “{title}” was selected",
                "Good news: the client has selected your application for “{title}” "
                "at {price}. We will confirm the mission as soon as their payment arrives.",
            ),
        },
    ),
    "application_declined": Template(
        params=(),
        texts={
            "fr": (
                "Votre candidature pour « {title} »",
                "Le client a retenu une autre proposition pour « {title} ». "
                "Merci pour votre candidature ; d'autres demandes vous attendent "
                "sur la plateforme.",
            ),
            "en": (
                "Your application for “{title}”",
                "The client has chosen another offer for “{title}”. "
                "Thank you for applying; other requests are waiting for you on the platform.",
            ),
        },
    ),
    "payment_requested": Template(
        params=("amount_minor",),
        texts={
            "fr": (
                "Réglez votre mission « {title} »",
                "Pour confirmer la mission « {title} », veuillez régler {amount}. "
                "La plateforme conserve ce montant et ne le verse au prestataire "
                "qu'une fois la prestation terminée.",
            ),
            "en": (
                "Pay for your mission “{title}”",
                "To confirm the mission “{title}”, please pay {amount}. "
                "The platform holds this amount and pays the provider only once "
                "the job is done.",
            ),
        },
    ),
    "payment_declined": Template(
        params=("decline_code",),
        texts={
            "fr": (
                "Paiement refusé pour « {title} »",
                "Votre paiement pour la mission « {title} » a été refusé ({decline_reason}). "
                "Vous pouvez réessayer avec une autre carte avant la date limite de paiement.",
            ),
            "en": (
                "Payment declined for “{title}”",
                "Your payment for the mission “{title}” was declined ({decline_reason}). "
                "You can try again with another card before the payment deadline.",
            ),
        },
    ),
    "mission_funded": Template(
        params=("amount_minor",),
        texts={
            "fr": (
                "Mission « {title} » confirmée",
                "Le paiement de {amount} pour la mission « {title} » est confirmé. "
                "La mission peut commencer : le prestataire sera payé une fois "
                "la prestation terminée et confirmée.",
            ),
            "en": (
                "Mission “{title}” confirmed",
                "The payment of {amount} for the mission “{title}” is confirmed. "
                "The mission can begin: the provider will be paid once the job is done "
                "and confirmed.",
            ),
        },
    ),
    "completion_requested": Template(
        params=("deadline",),
        texts={
            "fr": (
                "Confirmez la fin de la mission « {title} »",
                "Le prestataire indique avoir terminé la mission « {title} ». "
                "Merci de confirmer que tout s'est bien passé, ou de signaler un problème, "
                "avant le {deadline}. Sans réponse de votre part, le paiement sera versé "
                "automatiquement au prestataire.",
            ),
            "en": (
                "Please confirm that “{title}” is complete",
                "The provider reports that the mission “{title}” is complete. "
                "Please confirm that all went well, or report a problem, by {deadline}. "
                "Without a reply, the payment will be released to the provider automatically.",
            ),
        },
    ),
    "confirmation_reminder": Template(
        params=("deadline",),
        texts={
            "fr": (
                "Rappel : confirmez la fin de la mission « {title} »",
                "Vous n'avez pas encore confirmé la fin de la mission « {title} ». "
                "Sans réponse de votre part avant le {deadline}, le paiement sera versé "
                "automatiquement au prestataire.",
            ),
            "en": (
                "Reminder: confirm that “{title}” is complete",
                "You have not yet confirmed that the mission “{title}” is complete. "
                "Without a reply by {deadline}, the payment will be released to the provider "
                "automatically.",
            ),
        },
    ),
    "funds_released": Template(
        params=("amount_minor",),
        texts={
            "fr": (
                "Paiement versé pour « {title} »",
                "La mission « {title} » est terminée et le paiement de {amount} "
                "a été versé au prestataire. Merci de votre confiance.",
            ),
            "en": (
                "Payment released for “{title}”",
                "The mission “{title}” is complete and the payment of {amount} "
                "has been released to the provider. Thank you for your trust.",
            ),
        },
    ),
    "auto_released": Template(
        params=("amount_minor",),
        texts={
            "fr": (
                "Paiement versé automatiquement pour « {title} »",
                "Faute de confirmation dans le délai prévu, la mission « {title} » "
                "a été considérée comme terminée et le paiement de {amount} "
                "a été versé au prestataire.",
            ),
            "en": (
                "Payment released automatically for “{title}”",
                "As no confirmation arrived in time, the mission “{title}” was considered "
                "complete and the payment of {amount} has been released to the provider.",
            ),
        },
    ),
    "payout_pending": Template(
        params=("amount_minor", "reason"),
        texts={
            "fr": (
                "Versement en attente pour « {title} »",
                "Le versement de {amount} pour la mission « {title} » est en attente "
                "({reason}). Vérifiez les informations de votre compte de paiement : "
                "le versement sera effectué dès qu'elles seront complètes.",
            ),
            "en": (
                "Payout pending for “{title}”",
                "The payout of {amount} for the mission “{title}” is pending ({reason}). "
                "Please check your payout account details: the payout will be made "
                "as soon as they are complete.",
            ),
        },
    ),
    "dispute_opened": Template(
        params=("reason",),
        texts={
            "fr": (
                "Litige ouvert sur la mission « {title} »",
                "Un litige a été ouvert sur la mission « {title} ».\n"
                "Motif indiqué : {reason}\n\n"
                "Le paiement reste bloqué pendant que notre équipe examine la situation. "
                "Nous reviendrons vers vous rapidement.",
            ),
            "en": (
                "Dispute opened on “{title}”",
                "A dispute has been opened on the mission “{title}”.\n"
                "Stated reason: {reason}\n\n"
                "The payment stays on hold while our team reviews the case. "
                "We will get back to you shortly.",
            ),
        },
    ),
    "dispute_resolved": Template(
        params=("refund_minor", "release_minor"),
        texts={
            "fr": (
                "Litige résolu pour « {title} »",
                "Notre équipe a résolu le litige concernant la mission « {title} ».\n"
                "Montant remboursé au client : {refund}\n"
                "Montant versé au prestataire : {release}",
            ),
            "en": (
                "Dispute resolved for “{title}”",
                "Our team has resolved the dispute on the mission “{title}”.\n"
                "Refunded to the client: {refund}\n"
                "Paid to the provider: {release}",
            ),
        },
    ),
    "incident_reported": Template(
        params=("kind", "text"),
        texts={
            "fr": (
                "Incident signalé sur la mission « {title} »",
                "Un incident a été signalé sur la mission « {title} » ({kind_label}) :\n{text}",
            ),
            "en": (
                "Incident reported on “{title}”",
                "An incident has been reported on the mission “{title}” ({kind_label}):\n{text}",
            ),
        },
    ),
    "mission_cancelled": Template(
        params=("refund_minor",),
        texts={
            "fr": (
                "Mission « {title} » annulée",
                "La mission « {title} » a été annulée.\nMontant remboursé au client : {refund}",
            ),
            "en": (
                "Mission “{title}” cancelled",
                "The mission “{title}” has been cancelled.\nRefunded to the client: {refund}",
            ),
        },
    ),
    "provider_withdrew": Template(
        params=("refund_minor",),
        texts={
            "fr": (
                "Le prestataire s'est désisté de « {title} »",
                "Le prestataire retenu s'est désisté de la mission « {title} ».\n"
                "Montant remboursé au client : {refund}",
            ),
            "en": (
                "The provider withdrew from “{title}”",
                "The selected provider has withdrawn from the mission “{title}”.\n"
                "Refunded to the client: {refund}",
            ),
        },
    ),
    "mission_reopened": Template(
        params=(),
        texts={
            "fr": (
                "La mission « {title} » est de nouveau ouverte",
                "La mission « {title} » est de nouveau ouverte aux candidatures. "
                "Vous pouvez retenir un autre prestataire parmi les propositions reçues.",
            ),
            "en": (
                "The mission “{title}” is open again",
                "The mission “{title}” is open to applications again. "
                "You can select another provider among the offers received.",
            ),
        },
    ),
    "payment_lapsed": Template(
        params=(),
        texts={
            "fr": (
                "Délai de paiement dépassé pour « {title} »",
                "Le paiement de la mission « {title} » n'a pas été effectué dans le délai "
                "prévu. La sélection du prestataire est donc annulée.",
            ),
            "en": (
                "Payment deadline passed for “{title}”",
                "The payment for the mission “{title}” was not made in time, "
                "so the provider selection has been cancelled.",
            ),
        },
    ),
    "mission_expired": Template(
        params=(),
        texts={
            "fr": (
                "La mission « {title} » a expiré",
                "Aucun prestataire n'a été retenu pour la mission « {title} » dans le délai "
                "prévu : la demande a expiré. Vous pouvez publier une nouvelle demande "
                "à tout moment.",
            ),
            "en": (
                "The mission “{title}” has expired",
                "No provider was selected for the mission “{title}” in time, so the request "
                "has expired. You can post a new request at any time.",
            ),
        },
    ),
    "review_window_opened": Template(
        params=("deadline",),
        texts={
            "fr": (
                "Donnez votre avis sur la mission « {title} »",
                "La mission « {title} » est terminée. Vous pouvez laisser un avis "
                "jusqu'au {deadline}. Votre retour aide les autres utilisateurs "
                "à choisir en confiance.",
            ),
            "en": (
                "Review the mission “{title}”",
                "The mission “{title}” is complete. You can leave a review until {deadline}. "
                "Your feedback helps other users choose with confidence.",
            ),
        },
    ),
    "review_reminder": Template(
        params=("deadline",),
        texts={
            "fr": (
                "Rappel : votre avis sur la mission « {title} »",
                "Il vous reste jusqu'au {deadline} pour laisser un avis "
                "sur la mission « {title} ».",
            ),
            "en": (
                "Reminder: your review of “{title}”",
                "You have until {deadline} to leave a review of the mission “{title}”.",
            ),
        },
    ),
    "reviews_published": Template(
        params=("count",),
        texts={
            "fr": (
                "Avis publiés pour la mission « {title} »",
                "Les avis sur la mission « {title} » sont publiés ({reviews}). "
                "Vous pouvez les consulter sur la page de la mission.",
            ),
            "en": (
                "Reviews published for “{title}”",
                "The reviews of the mission “{title}” are now published ({reviews}). "
                "You can read them on the mission page.",
            ),
        },
    ),
    "mission_closed": Template(
        params=(),
        texts={
            "fr": (
                "Mission « {title} » clôturée",
                "La mission « {title} » est clôturée. Merci de votre confiance "
                "et à bientôt sur la plateforme.",
            ),
            "en": (
                "Mission “{title}” closed",
                "The mission “{title}” is now closed. Thank you for your trust, "
                "and see you soon on the platform.",
            ),
        },
    ),
}


def render(template: str, locale: str, params: Mapping[str, ParamValue]) -> tuple[str, str]:
    """Render a notification and return its subject and body.

    Raises ValueError if the template or locale is unknown, a parameter is missing, or an
    amount, currency or datetime parameter is invalid.
    """
    definition = TEMPLATES.get(template)
    if definition is None:
        raise ValueError(
            f"unknown notification template {template!r}; known templates: "
            f"{', '.join(sorted(TEMPLATES))}"
        )
    if locale not in SUPPORTED_LOCALES:
        raise ValueError(
            f"unsupported notification locale {locale!r}; use one of {', '.join(SUPPORTED_LOCALES)}"
        )

    required = COMMON_PARAMS + definition.params
    if any(name.endswith(AMOUNT_SUFFIX) for name in definition.params):
        required += ("currency",)
    missing = [name for name in required if name not in params]
    if missing:
        raise ValueError(
            f"notification template {template!r} is missing parameters: {', '.join(missing)}"
        )

    values = _format_params(params, locale)
    subject_text, body_text = definition.texts[locale]
    body = "\n\n".join(
        (GREETING[locale], body_text.format_map(values), REFERENCE_LINE[locale].format_map(values))
    )
    return subject_text.format_map(values), body


def format_amount(amount_minor: int, currency: str, locale: str) -> str:
    """Format an amount in minor units the way the locale writes money (78,75 € or €78.75)."""
    currency_format = CURRENCY_FORMATS.get(currency)
    if currency_format is None:
        raise ValueError(
            f"cannot format amounts in currency {currency!r}; supported: "
            f"{', '.join(sorted(CURRENCY_FORMATS))}"
        )
    symbol, decimals = currency_format
    sign = "-" if amount_minor < 0 else ""
    units, fraction = divmod(abs(amount_minor), 10**decimals)
    grouped_units = f"{units:,}"
    if locale == "fr":
        # French groups thousands with a space and separates decimals with a comma.
        return f"{sign}{grouped_units.replace(',', ' ')},{fraction:0{decimals}d} {symbol}"
    return f"{sign}{symbol}{grouped_units}.{fraction:0{decimals}d}"


def format_datetime(value: str, locale: str) -> str:
    """Format an ISO 8601 datetime in Paris time, as "lundi 14 avril 2025 à 18:00 (heure de Paris)".

    A datetime without an offset is taken to be in UTC.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"invalid ISO 8601 datetime parameter {value!r}") from error
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    local = parsed.astimezone(DISPLAY_TIME_ZONE)
    weekday = WEEKDAYS[locale][local.weekday()]
    month = MONTHS[locale][local.month - 1]
    time_of_day = f"{local.hour:02d}:{local.minute:02d}"
    if locale == "fr":
        return f"{weekday} {local.day} {month} {local.year} à {time_of_day} (heure de Paris)"
    return f"{weekday} {local.day} {month} {local.year} at {time_of_day} (Paris time)"


def _format_params(params: Mapping[str, ParamValue], locale: str) -> dict[str, str]:
    values = {name: str(value) for name, value in params.items()}
    for name, value in params.items():
        if name.endswith(AMOUNT_SUFFIX):
            currency = params.get("currency")
            if currency is None:
                raise ValueError(f"amount parameter {name} needs a currency parameter")
            values[name.removesuffix(AMOUNT_SUFFIX)] = format_amount(
                _amount(name, value), str(currency), locale
            )
        elif name in DATETIME_PARAMS:
            values[name] = format_datetime(str(value), locale)

    if "kind" in params:
        kind = str(params["kind"])
        values["kind_label"] = INCIDENT_KINDS[locale].get(kind, kind)
    if "decline_code" in params:
        code = str(params["decline_code"])
        reason = DECLINE_REASONS[locale].get(code)
        values["decline_reason"] = reason or UNKNOWN_DECLINE_REASON[locale].format(code=code)
    if "count" in params:
        values["reviews"] = _review_count(_count(params["count"]), locale)
    return values


def _amount(name: str, value: ParamValue) -> int:
    if isinstance(value, bool):
        raise ValueError(f"amount parameter {name} must be an integer, got {value!r}")
    try:
        return int(value)
    except ValueError as error:
        raise ValueError(f"amount parameter {name} must be an integer, got {value!r}") from error


def _count(value: ParamValue) -> int:
    try:
        return int(value)
    except ValueError as error:
        raise ValueError(f"count parameter must be an integer, got {value!r}") from error


def _review_count(count: int, locale: str) -> str:
    if locale == "fr":
        # "avis" has the same form in the singular and the plural.
        return "aucun avis" if count == 0 else f"{count} avis"
    if count == 0:
        return "no reviews"
    return "1 review" if count == 1 else f"{count} reviews"
