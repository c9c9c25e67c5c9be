"""Gumroad ping -> ledger facts. Pure functions over the parsed ping.

Facts the mapping respects (DESIGN.md "Provider facts"):
- `price` is USD cents whatever `currency` says (that is the listing currency);
- gifts book `gift_price`; `test=true` pings are never counted;
- booleans arrive as strings; nested fields as bracket keys (`variants[Size]=L`);
- refunds, disputes and dispute_won come through resource subscriptions
  (`resource_name`); a refund ping has no amount: a full refund is minus the sale.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, TypedDict
from urllib.parse import parse_qsl

from revenue.entries import LedgerEntry

from ..facts import Fact, Mapped, MappingError, Record

PROVIDER = "gumroad"
CURRENCY = "USD"

# A parsed ping: strings, nested dicts (bracket keys) and lists.
Ping = dict[str, Any]


class SaleFields(TypedDict):
    """The LedgerEntry fields every row of one sale shares."""

    provider: str
    currency: str
    customer_email: str | None
    customer_id: str | None
    source_id: str
    product_id: str


def _set_nested(target: Ping, key: str, value: str) -> None:
    """`a[b][c]=v` -> {"a": {"b": {"c": v}}}; `a[]=v` appends to a list."""
    if "[" not in key or not key.endswith("]"):
        target[key] = value
        return
    head, _, rest = key.partition("[")
    parts = [head, *rest[:-1].split("][")]
    node = target
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        nxt = None if last else parts[i + 1]
        if last:
            if part == "":
                raise MappingError(f"unexpected empty bracket in {key!r}")
            node[part] = value
        elif nxt == "":
            existing = node.get(part)
            items = existing if isinstance(existing, list) else []
            items.append(value)
            node[part] = items
            return
        else:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child


def parse_body(body: str, content_type: str) -> Ping:
    """Form-encoded or JSON body -> dict (bracket keys nested). MappingError when it is neither."""
    text = body.strip()
    if "json" in (content_type or "").lower() or text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            raise MappingError("the body is not valid JSON") from None
        if not isinstance(document, dict):
            raise MappingError("the JSON body is not an object")
        flat: Ping = {}
        for key, value in document.items():  # JSON senders may also use bracket keys
            if isinstance(key, str) and "[" in key and isinstance(value, str):
                _set_nested(flat, key, value)
            else:
                flat[key] = value
        return flat
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=2000)
    except ValueError:
        raise MappingError("the body is neither form-encoded nor JSON") from None
    payload: Ping = {}
    for key, value in pairs:
        _set_nested(payload, key, value)
    return payload


def flag(value: object) -> bool:
    """Gumroad booleans: "true"/"false" strings (JSON senders may send real booleans)."""
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in ("true", "1", "yes")


# More than this is not a price (and would not fit the ledger's bigint): refused, not booked.
MAX_CENTS = 10**12
_ASCII_DIGITS = re.compile(r"[0-9]+")


def _cents(value: object, name: str) -> int:
    """Whole USD cents in ASCII digits only: `٣٠٠` or `³` is refused, never read as 300."""
    if isinstance(value, bool):
        raise MappingError(f"'{name}' is not an amount in cents")
    if isinstance(value, int):
        cents = value
    else:
        text = str(value if value is not None else "").strip()
        if not _ASCII_DIGITS.fullmatch(text):
            raise MappingError(f"'{name}' must be whole USD cents in digits 0-9, got {str(value)[:40]!r}")
        if len(text) > len(str(MAX_CENTS)):
            raise MappingError(f"'{name}' is {len(text)} digits long: not a price")
        cents = int(text)
    if not 0 <= cents <= MAX_CENTS:
        raise MappingError(f"'{name}' must be between 0 and {MAX_CENTS} cents, got {cents}")
    return cents


def resource_of(payload: Ping) -> str:
    """The plain Ping carries sales only; resource subscriptions name their resource."""
    return str(payload.get("resource_name") or "sale").strip().lower()


def delivery_key(payload: Ping) -> str:
    """Dedupe key: (sale_id, resource_name). Never a body hash (retries add retry_count)."""
    subject = str(payload.get("sale_id") or payload.get("subscription_id") or "").strip()
    if not subject:
        raise MappingError("the ping has neither sale_id nor subscription_id")
    return f"{subject}:{resource_of(payload)}"


def sale_amount_cents(payload: Ping) -> int:
    """USD cents; a gift books what the giver paid (`gift_price`)."""
    if payload.get("gift_price") not in (None, ""):
        return _cents(payload.get("gift_price"), "gift_price")
    return _cents(payload.get("price"), "price")


def _sale_time(payload: Ping, received_at: datetime) -> datetime:
    """An aware UTC datetime, or MappingError with the reason (never OverflowError or another crash)."""
    raw = str(payload.get("sale_timestamp") or "").strip()
    if not raw:
        return received_at
    shown = raw[:60]
    if not raw.isascii():
        raise MappingError(f"sale_timestamp {shown!r} is not an ISO 8601 time (ASCII digits only)")
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise MappingError(f"sale_timestamp {shown!r} is not an ISO 8601 time (years 1 to 9999)") from None
    if moment.tzinfo is None:
        raise MappingError(f"sale_timestamp {shown!r} has no time zone")
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise MappingError(f"sale_timestamp {shown!r} is outside the range of dates in UTC") from None


def _sale_fields(payload: Ping, sale_id: str) -> SaleFields:
    return SaleFields(
        provider=PROVIDER,
        currency=CURRENCY,
        customer_email=str(payload.get("email") or "").strip() or None,
        customer_id=str(payload.get("purchaser_id") or "").strip() or None,
        source_id=sale_id,
        product_id=str(payload.get("product_id") or payload.get("product_permalink") or ""),
    )


def _buyer_entity_hint(payload: Ping) -> str:
    """url_params is the query string the BUYER put on the product page: it never picks the entity
    (the product mapping does); it is kept and compared, and a conflict raises an alert."""
    url_params = payload.get("url_params")
    if not isinstance(url_params, dict):
        return ""
    return str(url_params.get("entity") or "")[:200]


def _sale_metadata(payload: Ping, sale_id: str, resource: str, buyer_hint: str) -> dict[str, object]:
    metadata: dict[str, object] = {
        "sale_id": sale_id,
        "order_number": str(payload.get("order_number") or ""),
        "product_name": str(payload.get("product_name") or ""),
        "product_permalink": str(payload.get("product_permalink") or ""),
        "listing_currency": str(payload.get("currency") or ""),
        "gift": flag(payload.get("is_gift_receiver_purchase")),
        "resource_name": resource,
    }
    if buyer_hint:
        metadata["buyer_entity_hint"] = buyer_hint
    return metadata


def map_ping(payload: Ping, *, received_at: datetime) -> Mapped:
    """One ping -> facts. `received_at` dates refunds and disputes (their pings carry no time of their own)."""
    if flag(payload.get("test")):
        return Mapped(facts=[], handled=False, note="test ping: acknowledged, never counted")
    resource = resource_of(payload)
    if resource in ("cancellation", "subscription_ended", "subscription_restarted", "subscription_updated"):
        return Mapped(facts=[], note=f"{resource}: stored, no money moves")
    sale_id = str(payload.get("sale_id") or "").strip()
    if not sale_id:
        raise MappingError(f"a {resource} ping without sale_id")
    amount = sale_amount_cents(payload)
    common = _sale_fields(payload, sale_id)
    buyer_hint = _buyer_entity_hint(payload)
    metadata = _sale_metadata(payload, sale_id, resource, buyer_hint)
    sale = LedgerEntry(
        event_id=f"gumroad:sale:{sale_id}",
        event_type="sale",
        kind="payment",
        amount_cents=amount,
        occurred_at=_sale_time(payload, received_at),
        metadata={**metadata, "gumroad_fee_cents": str(payload.get("gumroad_fee") or "")},
        description=f"Gumroad sale {payload.get('product_name') or sale_id}",
        buyer_entity_hint=buyer_hint,
        **common,
    )

    def debit(kind: str) -> Record:
        return Record(_debit(sale, kind, kind, amount, received_at, metadata, common), True)

    if resource == "sale":
        facts: list[Fact] = [Record(sale)]
        if flag(payload.get("refunded")):
            facts.append(debit("refund"))
        if flag(payload.get("disputed")):
            facts.append(debit("dispute"))
        return Mapped(facts=facts)
    if resource == "refund":
        if not flag(payload.get("refunded")):
            raise MappingError("a refund ping without refunded=true: a partial refund of unknown amount")
        return Mapped(facts=[debit("refund")])
    if resource == "dispute":
        return Mapped(facts=[debit("dispute")])
    if resource == "dispute_won":
        won = LedgerEntry(
            event_id=f"gumroad:dispute_won:{sale_id}",
            event_type="dispute_won",
            kind="dispute_reversal",
            amount_cents=amount,
            occurred_at=received_at,
            metadata=metadata,
            parent_event_id=sale.event_id,
            description=f"Gumroad dispute won on sale {sale_id}",
            **common,
        )
        return Mapped(facts=[debit("dispute"), Record(won, True)])
    return Mapped(facts=[], handled=False, note=f"resource {resource} is not booked")


def _debit(
    sale: LedgerEntry, kind: str, name: str, amount: int, at: datetime, metadata: dict[str, object], common: SaleFields
) -> LedgerEntry:
    return LedgerEntry(
        event_id=f"gumroad:{name}:{sale.source_id}",
        event_type=name,
        kind=kind,
        amount_cents=-amount,
        occurred_at=at,
        metadata=metadata,
        parent_event_id=sale.event_id,
        description=f"Gumroad {name} of sale {sale.source_id}",
        **common,
    )
