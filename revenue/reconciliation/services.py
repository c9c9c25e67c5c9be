"""Reconciliation writes: statement import, expected deposits, matches, flags. Every change is audited.

Services are keyword-only and transactional. The audit row (ReconciliationAction) is written in
the same transaction as the change it records: who (None = the system), when, what.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypedDict
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from revenue.business_time import business_date_of
from revenue.entries import EXPECTS_BANK_DEPOSIT
from revenue.errors import ApplicationError, Conflict
from revenue.models import Entity, Payout, RevenueEvent
from revenue.services.manual import ManualEntryData, manual_entry_create

from . import matching
from .bank_formats import BankDepositResource, StatementError, statement_dataset
from .models import BankDeposit, DepositMatch, DepositMatchItem, ExpectedDeposit, ReconciliationAction
from .selectors import window_business_days

if TYPE_CHECKING:
    from django.contrib.auth.models import User  # settings.AUTH_USER_MODEL (the default)

PAYOUT_SOURCES: dict[str, ExpectedDeposit.Source] = {
    RevenueEvent.Provider.STRIPE: ExpectedDeposit.Source.STRIPE_PAYOUT,
    RevenueEvent.Provider.GUMROAD: ExpectedDeposit.Source.GUMROAD_PAYOUT,
    RevenueEvent.Provider.MANUAL: ExpectedDeposit.Source.MANUAL_PAYOUT,
}
NO_LONGER_EXPECTED = (Payout.Status.FAILED, Payout.Status.CANCELED)


def _audit(
    *,
    action: str,
    actor: User | None = None,
    entity: Entity | None = None,
    match: DepositMatch | None = None,
    deposit: BankDeposit | None = None,
    expected: ExpectedDeposit | None = None,
    note: str = "",
    details: dict[str, Any] | None = None,
) -> ReconciliationAction:
    return ReconciliationAction.objects.create(
        action=action,
        actor=actor,
        entity=entity,
        match=match,
        deposit=deposit,
        expected=expected,
        note=note,
        details=details or {},
    )


# --- expected deposits -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncResult:
    created: int
    cancelled: int
    flagged_matches: int


def _manual_hints(event: RevenueEvent) -> list[str]:
    meta = event.metadata or {}
    hints = [event.reference, event.customer_id or ""]
    for key in ("po_number", "reference", "customer_name", "customer", "company"):
        value = meta.get(key)
        if isinstance(value, str):
            hints.append(value)
    if event.customer_email and "@" in event.customer_email:
        hints.append(event.customer_email.split("@", 1)[1].split(".")[0])
    return sorted({h.strip() for h in hints if h and len(h.strip()) >= 3})


def _expects_deposit() -> Q:
    return Q(**{f"metadata__{EXPECTS_BANK_DEPOSIT}": True}) | Q(**{f"metadata__{EXPECTS_BANK_DEPOSIT}": "true"})


def _expected_from_payout(payout: Payout) -> ExpectedDeposit:
    return ExpectedDeposit(
        entity_id=payout.entity_id,
        source=PAYOUT_SOURCES[payout.provider],
        payout=payout,
        amount_cents=payout.amount_cents,
        currency=payout.currency.upper(),
        expected_on=payout.arrival_on or business_date_of(payout.created_at),
        reference=payout.payout_id,
        match_hints=[payout.statement_descriptor] if payout.statement_descriptor else [],
    )


def _stated_expected_on(event: RevenueEvent) -> date | None:
    """The `expected_on` date a person typed on a manual entry, if it parses."""
    value = event.metadata.get("expected_on") if isinstance(event.metadata, dict) else None
    try:
        return datetime.fromisoformat(value).date() if value else None
    except (TypeError, ValueError):
        return None


def _expected_from_manual_entry(event: RevenueEvent) -> ExpectedDeposit:
    return ExpectedDeposit(
        entity_id=event.entity_id,
        source=ExpectedDeposit.Source.MANUAL,
        event=event,
        amount_cents=event.amount_cents,
        currency=event.currency,
        expected_on=_stated_expected_on(event) or business_date_of(event.occurred_at),
        reference=event.reference or event.event_id,
        match_hints=_manual_hints(event),
    )


def _create_new_expectations(entity: Entity | None) -> int:
    """Paid payouts and manual payments marked `expects_bank_deposit` that have no expected deposit yet."""
    payouts = Payout.objects.filter(status=Payout.Status.PAID, expected_deposit__isnull=True)
    events = RevenueEvent.objects.filter(
        _expects_deposit(),
        provider=RevenueEvent.Provider.MANUAL,
        kind=RevenueEvent.Kind.PAYMENT,
        amount_cents__gt=0,
        expected_deposit__isnull=True,
        reversed_by__isnull=True,
    )
    if entity is not None:
        payouts = payouts.filter(entity=entity)
        events = events.filter(entity=entity)
    new_rows = [_expected_from_payout(p) for p in payouts] + [_expected_from_manual_entry(e) for e in events]
    if not new_rows:
        return 0
    # ignore_conflicts: a concurrent sync may have created the same row (one-to-one on payout / event).
    return len(ExpectedDeposit.objects.bulk_create(new_rows, ignore_conflicts=True))


def _no_longer_expected_reason(item: ExpectedDeposit) -> str:
    if item.payout_id:
        failed = item.payout
        assert failed is not None  # payout_id is set
        failure = (failed.metadata or {}).get("failure_code") or ""
        reason = f"{failed.get_provider_display()} payout {failed.payout_id} {failed.status}"
        return reason + (f" after it was paid ({failure})" if failure else " after it was paid")
    reversed_entry = item.event
    assert reversed_entry is not None  # without a payout, a stale item is a reversed ledger entry
    return f"Ledger entry {reversed_entry.event_id} was reversed"


def _cancel_stale_expectations(entity: Entity | None) -> tuple[int, int]:
    """Cancel open expectations whose payout failed or whose entry was reversed; flag their matches.

    Returns (cancelled, flagged matches). A match already made stays: a person decides.
    """
    stale = ExpectedDeposit.objects.select_for_update(of=("self",)).filter(status=ExpectedDeposit.Status.OPEN)
    stale = stale.filter(
        Q(payout__status__in=NO_LONGER_EXPECTED) | Q(event__isnull=False, event__reversed_by__isnull=False)
    ).select_related("payout", "event", "entity")
    if entity is not None:
        stale = stale.filter(entity=entity)
    cancelled = flagged = 0
    now = timezone.now()
    for item in stale:
        reason = _no_longer_expected_reason(item)
        item.status = ExpectedDeposit.Status.CANCELLED
        item.cancelled_reason = reason[:255]
        item.cancelled_at = now
        item.save(update_fields=["status", "cancelled_reason", "cancelled_at"])
        cancelled += 1
        _audit(
            action=ReconciliationAction.Action.EXPECTATION_CANCELLED,
            entity=item.entity,
            expected=item,
            note=reason,
        )
        active = DepositMatch.objects.filter(
            status=DepositMatch.Status.ACTIVE, items__expected=item, items__active=True
        ).first()
        if active is not None:
            _set_flag(active, reason=f"Matched to an item no longer expected: {reason}"[:255], actor=None)
            flagged += 1
    return cancelled, flagged


@transaction.atomic
def expected_deposits_sync(*, entity: Entity | None = None) -> SyncResult:
    """Bring expected deposits in line with payouts and the ledger; idempotent.

    New: paid payouts (Stripe, Gumroad, entered by hand) and manual ledger payments marked
    `expects_bank_deposit`. No longer expected: a payout that failed or was cancelled after it was
    paid, a manual entry that was reversed. If such an item was already matched, the match
    stays (a person decides) but is flagged.
    """
    created = _create_new_expectations(entity)
    cancelled, flagged = _cancel_stale_expectations(entity)
    return SyncResult(created, cancelled, flagged)


# --- statement import --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportSummary:
    new: int
    duplicates: int
    debits: int
    auto_matched: int


@transaction.atomic
def statement_imported(
    *, entity: Entity, user: User | None, statement_name: str, layout: str, counts: Mapping[str, int]
) -> int:
    """After a statement import commits its rows: audit it, refresh expectations, auto-match. Returns matches made."""
    _audit(
        action=ReconciliationAction.Action.IMPORT,
        actor=user,
        entity=entity,
        note=statement_name,
        details={"layout": layout, **{k: int(v) for k, v in counts.items()}},
    )
    expected_deposits_sync(entity=entity)
    return len(reconciliation_auto_match(entity=entity))


def bank_statement_import(
    *,
    content: bytes,
    layout: str,
    entity: Entity,
    mapping: dict[str, str] | None = None,
    currency: str = "USD",
    statement_name: str = "",
    user: User | None = None,
) -> ImportSummary:
    """Import a statement file through the same resource the admin uses. All or nothing: any bad line
    refuses the file with the line and column named."""
    try:
        dataset = statement_dataset(content, layout)
    except StatementError as exc:
        raise ApplicationError(str(exc), code="statement_unreadable") from None
    resource = BankDepositResource(entity=entity, mapping=mapping, currency=currency, on_imported=statement_imported)
    result = resource.import_data(
        dataset,
        dry_run=False,
        raise_errors=False,
        rollback_on_validation_errors=True,
        file_name=statement_name,
        user=user,
    )
    # A file-level error (the first one: later ones are its consequences) or every bad line.
    problems = [str(result.base_errors[0].error)] if result.base_errors else []
    for _, row_errors in [] if problems else result.row_errors():
        problems.extend(str(error.error) for error in row_errors)
    for invalid in result.invalid_rows:
        problems.extend(message for messages in invalid.error_dict.values() for message in messages)
    if problems:
        raise ApplicationError(
            "Statement not imported: " + "; ".join(problems[:10]) + (" …" if len(problems) > 10 else ""),
            code="statement_invalid",
            extra={"errors": problems},
        )
    return ImportSummary(
        new=resource.counts["new"],
        duplicates=resource.counts["duplicates"],
        debits=resource.counts["debits"],
        auto_matched=resource.auto_matched,
    )


# --- matching ----------------------------------------------------------------------------------------------


def _active_item_exists(field: str) -> Exists:
    return Exists(DepositMatchItem.objects.filter(active=True, **{field: OuterRef("pk")}))


@transaction.atomic
def reconciliation_auto_match(*, entity: Entity | None = None) -> list[DepositMatch]:
    """Match what the rules allow without a person (see matching.plan_auto_matches)."""
    entities = [entity] if entity is not None else list(Entity.objects.all())
    made: list[DepositMatch] = []
    window = window_business_days()
    for current in entities:
        expected_rows = {
            row.pk: row
            for row in ExpectedDeposit.objects.select_for_update()
            .filter(entity=current, status=ExpectedDeposit.Status.OPEN, flagged_at__isnull=True)
            .exclude(_active_item_exists("expected"))
        }
        deposit_rows = {
            row.pk: row
            for row in BankDeposit.objects.select_for_update()
            .filter(entity=current, flagged_at__isnull=True)
            .exclude(_active_item_exists("deposit"))
        }
        if not expected_rows or not deposit_rows:
            continue
        plans = matching.plan_auto_matches(
            [
                matching.Expected(e.pk, e.amount_cents, e.currency, e.expected_on, e.source, tuple(e.match_hints))
                for e in expected_rows.values()
            ],
            [
                matching.Deposit(d.pk, d.amount_cents, d.currency, d.posted_on, d.description)
                for d in deposit_rows.values()
            ],
            window=window,
        )
        for plan in plans:
            made.append(
                _match_create(
                    deposits=[deposit_rows[i] for i in plan.deposit_ids],
                    expected=[expected_rows[i] for i in plan.expected_ids],
                    user=None,
                    method=DepositMatch.Method.AUTO,
                    note=f"Automatic ({plan.kind}): exact amount, within {window} business days, description fits",
                    score=100,
                )
            )
    return made


def _match_create(
    *,
    deposits: Sequence[BankDeposit],
    expected: Sequence[ExpectedDeposit],
    user: User | None,
    method: str,
    note: str = "",
    score: int | None = None,
) -> DepositMatch:
    if not deposits or not expected:
        raise ApplicationError("A match needs at least one bank deposit and one expected deposit", code="match_empty")
    entities = {d.entity_id for d in deposits} | {e.entity_id for e in expected}
    if len(entities) != 1:
        raise ApplicationError("A match cannot span entities", code="match_entities")
    currencies = {d.currency for d in deposits} | {e.currency for e in expected}
    if len(currencies) != 1:
        raise ApplicationError(
            f"A match cannot mix currencies ({', '.join(sorted(currencies))})", code="match_currencies"
        )
    cancelled = [e for e in expected if e.status != ExpectedDeposit.Status.OPEN]
    if cancelled:
        raise ApplicationError(
            f"{cancelled[0]} is no longer expected: {cancelled[0].cancelled_reason}", code="match_cancelled"
        )
    match = DepositMatch.objects.create(
        entity_id=entities.pop(),
        currency=currencies.pop(),
        method=method,
        expected_cents=sum(e.amount_cents for e in expected),
        deposited_cents=sum(d.amount_cents for d in deposits),
        score=score,
        note=note,
        created_by=user,
    )
    try:
        with transaction.atomic():
            DepositMatchItem.objects.bulk_create(
                [DepositMatchItem(match=match, deposit=d) for d in deposits]
                + [DepositMatchItem(match=match, expected=e) for e in expected]
            )
    except IntegrityError:
        raise Conflict("One of these items is already matched; refresh the page", code="already_matched") from None
    _audit(
        action=ReconciliationAction.Action.AUTO_MATCH
        if method == DepositMatch.Method.AUTO
        else ReconciliationAction.Action.MATCH,
        actor=user,
        entity=match.entity,
        match=match,
        note=note,
        details={
            "deposits": [str(d.pk) for d in deposits],
            "expected": [str(e.pk) for e in expected],
            "deposited_cents": match.deposited_cents,
            "expected_cents": match.expected_cents,
            "difference_cents": match.difference_cents,
            "currency": match.currency,
        },
    )
    return match


@transaction.atomic
def deposit_match(
    *,
    deposit_ids: Iterable[str | UUID],
    expected_ids: Iterable[str | UUID],
    user: User | None,
    note: str = "",
    score: int | None = None,
) -> DepositMatch:
    """A person confirms that these bank deposits settle these expected deposits (1:1, split or bundle).

    The sums may differ (a wire fee, a short payment); the difference is kept on the match and shown.
    """
    deposit_ids, expected_ids = list(deposit_ids), list(expected_ids)
    deposits = list(BankDeposit.objects.select_for_update().filter(pk__in=deposit_ids))
    expected = list(ExpectedDeposit.objects.select_for_update().filter(pk__in=expected_ids))
    if len(deposits) != len(set(map(str, deposit_ids))) or len(expected) != len(set(map(str, expected_ids))):
        raise ApplicationError("Some of the chosen items do not exist", code="match_unknown_items")
    return _match_create(
        deposits=deposits, expected=expected, user=user, method=DepositMatch.Method.MANUAL, note=note, score=score
    )


@transaction.atomic
def deposit_book_as_entry(
    *, deposit_id: str | UUID, kind: str, counterparty: str, reason: str, user: User | None
) -> DepositMatch:
    """A bank deposit no payout or PO explains (a check, a wire, an old Stripe payout) becomes a
    manual ledger entry dated the day it was posted and is matched to it, in one step: QuickBooks'
    bank-feed "Add". The entry and the match are audited; reversing the entry flags the match.
    """
    deposit = BankDeposit.objects.select_for_update().select_related("entity").filter(pk=deposit_id).first()
    if deposit is None:
        raise ApplicationError("That bank deposit does not exist", code="match_unknown_items")
    if DepositMatchItem.objects.filter(deposit=deposit, active=True).exists():
        raise Conflict("This deposit is already matched; undo that match first", code="already_matched")
    counterparty, reason = counterparty.strip(), reason.strip()
    if not counterparty or not reason:
        raise ApplicationError(
            "To add a deposit as a ledger entry, name who paid and say what the money is for",
            code="deposit_entry_incomplete",
        )
    data = ManualEntryData(
        entity=deposit.entity,
        reference=f"BANK-{deposit.posted_on:%Y%m%d}-{str(deposit.pk)[:8]}",
        amount_cents=deposit.amount_cents,
        currency=deposit.currency,
        received_on=deposit.posted_on,
        customer_name=counterparty,
        description=reason,
        kind=kind,
    )
    event = manual_entry_create(
        data=data,
        actor=user,
        extra_metadata={"bank_deposit_id": str(deposit.pk), "bank_description": deposit.description},
    )
    expected = _expected_from_manual_entry(event)
    expected.save()
    if deposit.flagged_at:  # the question the flag asked is answered
        reconciliation_unflag(target=deposit, user=user, note=f"Added as ledger entry {event.event_id}")
    return _match_create(
        deposits=[deposit],
        expected=[expected],
        user=user,
        method=DepositMatch.Method.MANUAL,
        note=f"Added as ledger entry {event.event_id}: {reason}",
        score=100,
    )


@transaction.atomic
def deposit_unmatch(*, match: DepositMatch, user: User | None, note: str = "") -> DepositMatch:
    """Undo a match; its items become unmatched again. The match row stays, for the record."""
    match = DepositMatch.objects.select_for_update().get(pk=match.pk)
    if match.status != DepositMatch.Status.ACTIVE:
        raise Conflict("This match was already undone", code="match_already_undone")
    match.status = DepositMatch.Status.UNDONE
    match.undone_at = timezone.now()
    match.undone_by = user
    match.save(update_fields=["status", "undone_at", "undone_by"])
    match.items.update(active=False)
    _audit(
        action=ReconciliationAction.Action.UNMATCH,
        actor=user,
        entity=match.entity,
        match=match,
        note=note,
        details={"deposited_cents": match.deposited_cents, "expected_cents": match.expected_cents},
    )
    return match


FlagTarget = BankDeposit | ExpectedDeposit | DepositMatch


class _TargetKwargs(TypedDict, total=False):
    deposit: BankDeposit
    expected: ExpectedDeposit
    match: DepositMatch


def _target_kwargs(target: FlagTarget) -> _TargetKwargs:
    if isinstance(target, BankDeposit):
        return {"deposit": target}
    if isinstance(target, ExpectedDeposit):
        return {"expected": target}
    if isinstance(target, DepositMatch):
        return {"match": target}
    raise ApplicationError(f"Cannot flag a {type(target).__name__}", code="flag_target")


def _set_flag(target: FlagTarget, *, reason: str, actor: User | None) -> None:
    target.flag_reason = reason[:255]
    target.flagged_at = timezone.now()
    target.save(update_fields=["flag_reason", "flagged_at"])
    _audit(
        action=ReconciliationAction.Action.FLAG,
        actor=actor,
        entity=target.entity,
        note=reason,
        **_target_kwargs(target),
    )


@transaction.atomic
def reconciliation_flag(*, target: FlagTarget, reason: str, user: User | None) -> FlagTarget:
    """Mark a deposit, an expected deposit or a match as needing investigation. Flagged items are not auto-matched."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("Say why you flag it", code="flag_reason_required")
    _target_kwargs(target)
    target = type(target).objects.select_for_update().get(pk=target.pk)
    _set_flag(target, reason=reason, actor=user)
    return target


@transaction.atomic
def reconciliation_unflag(*, target: FlagTarget, user: User | None, note: str = "") -> FlagTarget:
    _target_kwargs(target)
    target = type(target).objects.select_for_update().get(pk=target.pk)
    if not target.flagged_at:
        raise Conflict("It is not flagged", code="not_flagged")
    previous = target.flag_reason
    target.flag_reason = ""
    target.flagged_at = None
    target.save(update_fields=["flag_reason", "flagged_at"])
    _audit(
        action=ReconciliationAction.Action.UNFLAG,
        actor=user,
        entity=target.entity,
        note=note,
        details={"previous_reason": previous},
        **_target_kwargs(target),
    )
    return target


@transaction.atomic
def reconciliation_run(*, entity: Entity | None = None) -> tuple[SyncResult, int]:
    """Refresh expectations from payouts and the ledger, then auto-match. What the periodic check and the page's
    "Refresh and auto-match" button do."""
    sync = expected_deposits_sync(entity=entity)
    return sync, len(reconciliation_auto_match(entity=entity))
