"""Connections between apps that the dependency direction forbids them to make themselves.

revenue (the inner app) finds possible duplicates and standalone fees during CSV imports; alerts
(an outer app) owns the alert. summaries sends the daily digest; the morning
view it leads with includes the open alerts (alerts). branchberg composes both.
"""

from __future__ import annotations

from revenue.backfill import (
    PossibleDuplicate,
    StandaloneFee,
    duplicate_reporter_register,
    standalone_fee_reporter_register,
)
from revenue.models import Entity
from revenue.money import format_money


def duplicate_alert_raise(duplicate: PossibleDuplicate) -> None:
    """One `duplicate` alert per pair of rows (fingerprint), raised in the importer's transaction."""
    from alerts.models import RevenueAlert
    from alerts.services import alert_raise

    amount = format_money(duplicate.amount_cents, duplicate.currency)
    alert_raise(
        alert_type=RevenueAlert.AlertType.DUPLICATE,
        severity=RevenueAlert.Severity.WARNING,
        message=(
            f"Possible duplicate: {duplicate.event_id} and {duplicate.other_event_id} are both {amount} "
            f"from {duplicate.customer_email} on {duplicate.business_day:%Y-%m-%d} "
            f"(sources {duplicate.sources[0]} and {duplicate.sources[1]}). Review and reverse one if it is a duplicate."
        ),
        fingerprint=duplicate.fingerprint,
        metadata={
            "event_ids": sorted([duplicate.event_id, duplicate.other_event_id]),
            "customer_email": duplicate.customer_email,
            "amount_cents": duplicate.amount_cents,
            "currency": duplicate.currency,
            "business_day": duplicate.business_day.isoformat(),
            "sources": list(duplicate.sources),
        },
        entity=Entity.objects.filter(pk=duplicate.entity_id).first(),
    )


def morning_digest_section(digest) -> dict:
    """The daily digest carries the morning view of its day: the same selector as the dashboard's."""
    from alerts.morning import morning_payload, morning_view
    from revenue.periods import Cadence

    if digest.period != Cadence.DAILY:
        return {}
    return {"morning": morning_payload(morning_view(day=digest.start_date))}


def standalone_fee_alert_raise(fee: StandaloneFee) -> None:
    """One alert per imported fee booked without its payment (the payment may come in a later import)."""
    from alerts.models import RevenueAlert
    from alerts.services import alert_raise

    alert_raise(
        alert_type=RevenueAlert.AlertType.RECONCILIATION,
        severity=RevenueAlert.Severity.WARNING,
        message=(
            f"Imported fee {fee.event_id} ({format_money(fee.amount_cents, fee.currency)}) belongs to payment "
            f"{fee.parent_event_id}, which is not in the ledger: it is booked as a standalone fee. Import the "
            "payment (or check the file) so the fee sits beside it."
        ),
        fingerprint=fee.fingerprint,
        metadata={"event_id": fee.event_id, "parent_event_id": fee.parent_event_id},
        entity=Entity.objects.filter(pk=fee.entity_id).first(),
    )


def wire() -> None:
    from summaries.services import summary_payload_section_register

    duplicate_reporter_register(duplicate_alert_raise)
    summary_payload_section_register(morning_digest_section)
    standalone_fee_reporter_register(standalone_fee_alert_raise)
