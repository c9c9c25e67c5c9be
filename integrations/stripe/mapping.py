"""Stripe event payload -> ledger facts. Pure functions over dicts; no database, no API.

Canonical keys (the ledger's `event_id`), whatever delivery carries the fact:
- sale: `stripe:pi_…` (PaymentIntent), `stripe:ch_…` only when there is no PaymentIntent;
- refund: `stripe:re_…` (negative), booked at the refund's own `created`;
- dispute: `stripe:dp_…` (negative), its reinstatement `stripe:dp_…:reinstated`;
- fee: `stripe:fee:txn_…` (from a balance transaction).

Amounts are already in the currency's minor unit (JPY 0 decimals, KWD 3): only
the currency code is upper-cased.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypedDict

from revenue.entries import LedgerEntry
from revenue.money import to_minor_units

from ..facts import Fact, Mapped, MappingError, PayoutFact, Record, StripeRefund, StripeRefundTotal

PROVIDER = "stripe"

# A Stripe object as parsed JSON.
Json = dict[str, Any]


class UsdSettlement(TypedDict, total=False):
    """What a balance transaction settled in USD: the LedgerEntry fields it fills."""

    amount_usd_cents: int
    fx_rate: Decimal
    fx_source: str


SALE_EVENT_TYPES = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "payment_intent.succeeded",
    "charge.succeeded",
    "charge.captured",
    "charge.updated",
)


@dataclass(frozen=True)
class Context:
    event_id: str
    event_type: str
    account: str
    event_created: datetime


# ---------------------------------------------------------------- helpers


def object_id(value: object) -> str:
    """An id whether the field is a plain id or an expanded object."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def from_epoch(value: object) -> datetime:
    """Unix seconds (an integer, or a string of ASCII digits) -> aware UTC datetime; MappingError otherwise."""
    if value is None or isinstance(value, bool):
        raise MappingError("missing timestamp")
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if not isinstance(value, int):
        raise MappingError(f"timestamp {value!r} is not whole Unix seconds")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise MappingError(f"timestamp {value} is outside the range of dates") from None


def _child(obj: Json, key: str) -> Json:
    """A nested object, or an empty one when the field is absent or not an object."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MappingError(f"'{name}' must be an integer amount in minor units, got {value!r}")
    return value


def _currency(obj: Json) -> str:
    currency = obj.get("currency")
    if not isinstance(currency, str) or not currency:
        raise MappingError("missing currency")
    return currency.upper()


def _hint(obj: Json) -> str:
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        value = metadata.get("entity")
        if isinstance(value, str):
            return value.strip()
    return ""


def _sale_key(payment_intent: str, charge: str) -> str:
    if payment_intent:
        return f"stripe:{payment_intent}"
    if charge:
        return f"stripe:{charge}"
    return ""


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    return Decimal(str(value))


def _usd_from_balance_transaction(bt: object, sign: int) -> UsdSettlement:
    """amount_usd_cents / fx_rate from a settled-in-USD balance transaction (exchange_rate when converted)."""
    if not isinstance(bt, dict) or str(bt.get("currency", "")).lower() != "usd":
        return {}
    amount = bt.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool):
        return {}
    rate = _decimal(bt.get("exchange_rate"))
    return {
        "amount_usd_cents": sign * abs(amount),
        "fx_rate": rate if rate is not None else Decimal(1),
        "fx_source": "stripe_balance_transaction",
    }


def _fee_facts(
    bt: Json, ctx: Context, *, parent_event_id: str, hint: str, extra: dict[str, str] | None = None
) -> list[Fact]:
    """The fee of one balance transaction as its own row (negative; a fee refund is a positive adjustment)."""
    txn = bt.get("id")
    fee = bt.get("fee")
    if not txn or not isinstance(fee, int) or isinstance(fee, bool) or fee == 0:
        return []
    currency = _currency(bt)
    entry = LedgerEntry(
        event_id=f"stripe:fee:{txn}",
        provider=PROVIDER,
        event_type=ctx.event_type,
        kind="fee" if fee > 0 else "adjustment",
        amount_cents=-fee,
        currency=currency,
        occurred_at=from_epoch(bt.get("created")) if bt.get("created") else ctx.event_created,
        metadata={
            "balance_transaction": txn,
            "source": object_id(bt.get("source")),
            "fee_details": [
                {"type": d.get("type"), "description": d.get("description"), "amount": d.get("amount")}
                for d in bt.get("fee_details") or []
                if isinstance(d, dict)
            ],
            "delivery_event_id": ctx.event_id,
            **(extra or {}),
        },
        source_id=txn,
        parent_event_id=parent_event_id,
        description=str(bt.get("description") or "Stripe fee"),
        entity_hint=hint,
        stripe_account=ctx.account,
        amount_usd_cents=-fee if currency == "USD" else None,
    )
    return [Record(entry)]


# ---------------------------------------------------------------- sales


def _sale_entry(
    ctx: Context,
    *,
    payment_intent: str,
    charge: str,
    amount: int,
    currency: str,
    occurred_at: datetime,
    email: str | None,
    customer: str,
    hint: str,
    description: str,
    fx: UsdSettlement | None = None,
) -> LedgerEntry:
    key = _sale_key(payment_intent, charge)
    return LedgerEntry(
        event_id=key,
        provider=PROVIDER,
        event_type=ctx.event_type,
        kind="payment",
        amount_cents=amount,
        currency=currency,
        occurred_at=occurred_at,
        customer_email=email or None,
        customer_id=customer or None,
        metadata={
            "payment_intent": payment_intent,
            "charge": charge,
            "delivery_event_id": ctx.event_id,
        },
        source_id=payment_intent or charge,
        description=description,
        entity_hint=hint,
        stripe_account=ctx.account,
        **(fx or {}),
    )


def charge_facts(charge: Json, ctx: Context) -> list[Fact]:
    """Any charge snapshot: the sale once captured and succeeded, plus the fee when the balance transaction is expanded."""
    charge_id = object_id(charge.get("id"))
    if not charge_id:
        raise MappingError("charge without id")
    payment_intent = object_id(charge.get("payment_intent"))
    key = _sale_key(payment_intent, charge_id)
    hint = _hint(charge)
    bt = charge.get("balance_transaction")
    facts: list[Fact] = []
    captured = charge.get("captured") is True
    if captured and charge.get("status") == "succeeded":
        amount = charge.get("amount_captured") or _int(charge.get("amount"), "amount")
        billing = _child(charge, "billing_details")
        facts.append(
            Record(
                _sale_entry(
                    ctx,
                    payment_intent=payment_intent,
                    charge=charge_id,
                    amount=_int(amount, "amount_captured"),
                    currency=_currency(charge),
                    occurred_at=from_epoch(charge.get("created")),
                    email=billing.get("email") or charge.get("receipt_email"),
                    customer=object_id(charge.get("customer")),
                    hint=hint,
                    description=str(charge.get("description") or ""),
                    fx=_usd_from_balance_transaction(bt, +1),
                )
            )
        )
    if isinstance(bt, dict) and captured:
        facts += _fee_facts(bt, ctx, parent_event_id=key, hint=hint, extra={"charge": charge_id})
    return facts


def payment_intent_facts(intent: Json, ctx: Context) -> list[Fact]:
    if intent.get("status") != "succeeded":
        return []
    intent_id = object_id(intent.get("id"))
    amount = _int(intent.get("amount_received"), "amount_received")
    if not intent_id or amount <= 0:
        return []
    latest = intent.get("latest_charge")
    charge_id = object_id(latest)
    occurred_at = ctx.event_created
    if isinstance(latest, dict) and latest.get("created"):
        occurred_at = from_epoch(latest["created"])
    else:  # API versions before 2022-11-15 embed the charges list
        charges = intent.get("charges")
        data = charges.get("data") if isinstance(charges, dict) else None
        succeeded = [c for c in data or [] if isinstance(c, dict) and c.get("status") == "succeeded"]
        if succeeded:
            charge_id = charge_id or object_id(succeeded[-1].get("id"))
            occurred_at = from_epoch(succeeded[-1].get("created"))
    return [
        Record(
            _sale_entry(
                ctx,
                payment_intent=intent_id,
                charge=charge_id,
                amount=amount,
                currency=_currency(intent),
                occurred_at=occurred_at,
                email=intent.get("receipt_email"),
                customer=object_id(intent.get("customer")),
                hint=_hint(intent),
                description=str(intent.get("description") or ""),
            )
        )
    ]


def checkout_session_facts(session: Json, ctx: Context) -> list[Fact]:
    """A paid payment-mode session. Unpaid (delayed methods, manual capture) is not revenue yet.

    Subscription sessions carry no PaymentIntent: their invoice's charge books the sale.
    """
    if session.get("payment_status") != "paid":
        return []
    payment_intent = object_id(session.get("payment_intent"))
    if not payment_intent:
        return []
    amount = _int(session.get("amount_total"), "amount_total")
    details = _child(session, "customer_details")
    return [
        Record(
            _sale_entry(
                ctx,
                payment_intent=payment_intent,
                charge="",
                amount=amount,
                currency=_currency(session),
                occurred_at=ctx.event_created,
                email=details.get("email") or session.get("customer_email"),
                customer=object_id(session.get("customer")),
                hint=_hint(session),
                description=f"Checkout {session.get('id', '')}",
            )
        )
    ]


# ---------------------------------------------------------------- refunds


def refund_facts(refund: Json, ctx: Context, *, charge: Json | None = None) -> list[Fact]:
    refund_id = object_id(refund.get("id"))
    if not refund_id:
        raise MappingError("refund without id")
    charge_id = object_id(refund.get("charge")) or object_id((charge or {}).get("id"))
    payment_intent = object_id(refund.get("payment_intent")) or object_id((charge or {}).get("payment_intent"))
    amount = _int(refund.get("amount"), "amount")
    status = str(refund.get("status") or "")
    hint = _hint(refund) or _hint(charge or {})
    entry = LedgerEntry(
        event_id=f"stripe:{refund_id}",
        provider=PROVIDER,
        event_type=ctx.event_type,
        kind="refund",
        amount_cents=-amount,
        currency=_currency(refund),
        occurred_at=from_epoch(refund.get("created")),
        metadata={
            "refund_charge": charge_id,
            "refund_role": "refund",
            "payment_intent": payment_intent,
            "reason": refund.get("reason"),
            "status_when_booked": status,
            "delivery_event_id": ctx.event_id,
        },
        source_id=refund_id,
        parent_event_id=_sale_key(payment_intent, charge_id),
        description=f"Refund {refund_id}",
        entity_hint=hint,
        stripe_account=ctx.account,
        **_usd_from_balance_transaction(refund.get("balance_transaction"), -1),
    )
    failed = status in ("failed", "canceled") or ctx.event_type == "refund.failed"
    return [
        StripeRefund(
            entry=entry,
            charge_id=charge_id,
            failed=failed,
            failed_at=ctx.event_created if failed else None,
            failure_reason=str(refund.get("failure_reason") or status or "failed"),
        )
    ]


def charge_refunded_facts(charge: Json, ctx: Context) -> list[Fact]:
    """The sale (still true), every refund in the `refunds` list, then the cumulative total.

    An uncaptured charge that is "refunded" is a released authorisation: no money moved.
    """
    facts = charge_facts(charge, ctx)
    if charge.get("captured") is not True:
        return facts
    refunds = charge.get("refunds")
    data = refunds.get("data") if isinstance(refunds, dict) else None
    for refund in data or []:
        if isinstance(refund, dict):
            facts += refund_facts(refund, ctx, charge=charge)
    amount_refunded = _int(charge.get("amount_refunded"), "amount_refunded")
    if amount_refunded > 0:
        charge_id = object_id(charge.get("id"))
        payment_intent = object_id(charge.get("payment_intent"))
        template = LedgerEntry(
            event_id=f"stripe:refund-unattributed:{charge_id}:{amount_refunded}",
            provider=PROVIDER,
            event_type=ctx.event_type,
            kind="refund",
            amount_cents=0,
            currency=_currency(charge),
            occurred_at=ctx.event_created,
            metadata={
                "refund_charge": charge_id,
                "refund_role": "unattributed",
                "amount_refunded": amount_refunded,
                "delivery_event_id": ctx.event_id,
            },
            source_id=charge_id,
            parent_event_id=_sale_key(payment_intent, charge_id),
            description=f"Refunded on {charge_id}, not yet attributed to a refund id",
            entity_hint=_hint(charge),
            stripe_account=ctx.account,
        )
        facts.append(StripeRefundTotal(template=template, charge_id=charge_id, amount_refunded=amount_refunded))
    return facts


# ---------------------------------------------------------------- disputes


def _dispute_reinstated_facts(
    ctx: Context,
    *,
    dispute_id: str,
    status: str,
    amount: int,
    reinstatement: Json | None,
    metadata: dict[str, object],
    common: dict[str, str],
) -> list[Fact]:
    """The disputed amount given back (reinstated or won), dated by the reinstating balance transaction."""
    reinstated = (
        ctx.event_type == "charge.dispute.funds_reinstated"
        or status == "won"
        or (reinstatement is not None and reinstatement.get("reporting_category") == "dispute_reversal")
    )
    if not reinstated:
        return []
    occurred = from_epoch(reinstatement["created"]) if reinstatement and reinstatement.get("created") else None
    return [
        Record(
            LedgerEntry(
                event_id=f"stripe:{dispute_id}:reinstated",
                kind="dispute_reversal",
                amount_cents=amount,
                occurred_at=occurred or ctx.event_created,
                metadata={**metadata, "status": status, "delivery_event_id": ctx.event_id},
                description=f"Dispute {dispute_id} funds reinstated",
                **common,
                **_usd_from_balance_transaction(reinstatement, +1),
            )
        )
    ]


def dispute_facts(dispute: Json, ctx: Context) -> list[Fact]:
    """Debit once funds are (or will be) withdrawn; give back once reinstated or won.

    Inquiries (`warning_*`) and prevented disputes move no money.
    """
    status = str(dispute.get("status") or "")
    if status.startswith("warning_") or status == "prevented":
        return []
    dispute_id = object_id(dispute.get("id"))
    if not dispute_id:
        raise MappingError("dispute without id")
    charge_id = object_id(dispute.get("charge"))
    payment_intent = object_id(dispute.get("payment_intent"))
    parent = _sale_key(payment_intent, charge_id)
    amount = _int(dispute.get("amount"), "amount")
    currency = _currency(dispute)
    hint = _hint(dispute)
    bts = [bt for bt in dispute.get("balance_transactions") or [] if isinstance(bt, dict)]
    withdrawal = next((bt for bt in bts if isinstance(bt.get("amount"), int) and bt["amount"] < 0), None)
    reinstatement = next((bt for bt in bts if isinstance(bt.get("amount"), int) and bt["amount"] > 0), None)
    common = {
        "provider": PROVIDER,
        "event_type": ctx.event_type,
        "currency": currency,
        "source_id": dispute_id,
        "parent_event_id": parent,
        "entity_hint": hint,
        "stripe_account": ctx.account,
    }
    metadata = {"dispute": dispute_id, "charge": charge_id, "reason": dispute.get("reason")}
    facts: list[Fact] = [
        Record(
            LedgerEntry(
                event_id=f"stripe:{dispute_id}",
                kind="dispute",
                amount_cents=-amount,
                occurred_at=from_epoch(dispute.get("created")),
                metadata={**metadata, "delivery_event_id": ctx.event_id},
                description=f"Dispute {dispute_id} ({dispute.get('reason') or 'unknown reason'})",
                **common,
                **_usd_from_balance_transaction(withdrawal, -1),
            )
        )
    ]
    for bt in bts:
        facts += _fee_facts(bt, ctx, parent_event_id=parent, hint=hint, extra={"dispute": dispute_id})
    facts += _dispute_reinstated_facts(
        ctx,
        dispute_id=dispute_id,
        status=status,
        amount=amount,
        reinstatement=reinstatement,
        metadata=metadata,
        common=common,
    )
    return facts


# ---------------------------------------------------------------- payouts


def payout_amount(value: object, currency: str) -> int:
    """Minor units. The API sends an integer; dj-stripe's stored form is a decimal string ("10.00")."""
    if isinstance(value, bool) or value is None:
        raise MappingError("payout without amount")
    if isinstance(value, int):
        return value
    return to_minor_units(str(value), currency)


def payout_facts(payout: Json, ctx: Context) -> list[Fact]:
    status = {"payout.paid": "paid", "payout.failed": "failed", "payout.canceled": "canceled"}.get(
        ctx.event_type, str(payout.get("status") or "")
    )
    if status not in ("paid", "failed", "canceled", "in_transit", "pending"):
        raise MappingError(f"unknown payout status {status!r}")
    payout_id = object_id(payout.get("id"))
    currency = _currency(payout)
    arrival = payout.get("arrival_date")
    return [
        PayoutFact(
            provider=PROVIDER,
            payout_id=payout_id,
            amount_cents=payout_amount(payout.get("amount"), currency),
            currency=currency,
            status=status,
            arrival_on=from_epoch(arrival).date() if arrival else None,
            stripe_account=ctx.account or str(payout.get("djstripe_owner_account") or ""),
            statement_descriptor=str(payout.get("statement_descriptor") or ""),
            metadata={
                "balance_transaction": object_id(payout.get("balance_transaction")),
                "failure_code": payout.get("failure_code") or "",
                "failure_message": payout.get("failure_message") or "",
                "method": payout.get("method") or "",
                "delivery_event_id": ctx.event_id,
            },
        )
    ]


# ---------------------------------------------------------------- balance transactions (API backfill)


def balance_transaction_facts(bt: Json, ctx: Context, *, charge_payment_intents: dict[str, str]) -> list[Fact]:
    """The fee of a charge/payment balance transaction; other types carry no fee we book here."""
    if bt.get("type") not in ("charge", "payment"):
        return []
    source = object_id(bt.get("source"))
    parent = _sale_key(charge_payment_intents.get(source, ""), source)
    return _fee_facts(bt, ctx, parent_event_id=parent, hint="", extra={"charge": source})


# ---------------------------------------------------------------- events

_HANDLERS: dict[str, Callable[[Json, Context], list[Fact]]] = {
    "checkout.session.completed": checkout_session_facts,
    "checkout.session.async_payment_succeeded": checkout_session_facts,
    "payment_intent.succeeded": payment_intent_facts,
    "charge.succeeded": charge_facts,
    "charge.captured": charge_facts,
    "charge.updated": charge_facts,
    "charge.refunded": charge_refunded_facts,
    "refund.created": refund_facts,
    "refund.updated": refund_facts,
    "refund.failed": refund_facts,
    "charge.refund.updated": refund_facts,
    "charge.dispute.created": dispute_facts,
    "charge.dispute.funds_withdrawn": dispute_facts,
    "charge.dispute.funds_reinstated": dispute_facts,
    "charge.dispute.closed": dispute_facts,
    "payout.paid": payout_facts,
    "payout.failed": payout_facts,
    "payout.canceled": payout_facts,
}

HANDLED_EVENT_TYPES = frozenset(_HANDLERS)


def envelope_check(event: object) -> None:
    """The minimal envelope every delivery must have; raises MappingError (-> 400) otherwise."""
    if not isinstance(event, dict):
        raise MappingError("the body is not a JSON object")
    if not isinstance(event.get("id"), str) or not event["id"]:
        raise MappingError("event has no id")
    if "\x00" in event["id"] or "\x00" in str(event.get("type")):
        raise MappingError("the event id or type contains a NUL character")
    if not isinstance(event.get("type"), str) or not event["type"]:
        raise MappingError("event has no type")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise MappingError("event has no data.object")


def context_of(event: Json) -> Context:
    created = event.get("created")
    return Context(
        event_id=event["id"],
        event_type=event["type"],
        account=str(event.get("account") or ""),
        event_created=from_epoch(created) if isinstance(created, int) else datetime.now(tz=UTC),
    )


def map_event(event: Json) -> Mapped:
    """One Stripe event -> facts. Unknown types are not handled (stored as 'ignored')."""
    envelope_check(event)
    handler = _HANDLERS.get(event["type"])
    if handler is None:
        return Mapped(facts=[], handled=False, note=f"event type {event['type']} is not booked")
    return Mapped(facts=handler(event["data"]["object"], context_of(event)))
