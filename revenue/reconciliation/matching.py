"""Pure matching rules over plain values: business-day distance, description fit, scores, auto-match plans.

No database here, so the rules are unit-tested directly and the services stay thin.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from difflib import SequenceMatcher
from itertools import combinations

from revenue.money import format_money

SOURCE_WORDS = {"stripe_payout": ("STRIPE",), "gumroad_payout": ("GUMROAD",)}
# Candidates considered per item when looking for an exact-sum split; keeps combinations bounded.
SPLIT_CANDIDATES = 12
MAX_SPLIT_PARTS = 3


@dataclass(frozen=True)
class Expected:
    id: object
    amount_cents: int
    currency: str
    on: date
    source: str
    hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class Deposit:
    id: object
    amount_cents: int
    currency: str
    on: date
    description: str


@dataclass(frozen=True)
class Candidate:
    deposit_id: object
    score: int
    amount_difference_cents: int
    business_days: int
    description_fits: bool
    reasons: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class PlannedMatch:
    expected_ids: tuple
    deposit_ids: tuple
    kind: str  # exact | split | bundle


def business_days_between(first: date, second: date) -> int:
    """Weekdays stepped over going from one date to the other (Fri -> Mon = 1, same day = 0)."""
    start, end = sorted((first, second))
    days = (end - start).days
    full_weeks, rest = divmod(days, 7)
    count = full_weeks * 5
    for offset in range(1, rest + 1):
        if (start + timedelta(days=offset)).weekday() < 5:
            count += 1
    return count


def business_days_before(day: date, business_days: int) -> date:
    """The date `business_days` weekdays before `day`."""
    current = day
    remaining = business_days
    while remaining > 0:
        current -= timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


def normalize_text(text: str) -> str:
    return re.sub(r"[^A-Z0-9]+", " ", (text or "").upper()).strip()


def _compact(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", (text or "").upper())


def description_fits(expected: Expected, description: str) -> bool:
    """STRIPE / GUMROAD for payouts; for manual entries, the PO / customer reference (ignoring spacing)."""
    words = SOURCE_WORDS.get(expected.source)
    compact = _compact(description)
    if words:
        return any(word in compact for word in words)
    return any(len(_compact(hint)) >= 3 and _compact(hint) in compact for hint in expected.hints)


def description_similarity(expected: Expected, description: str) -> float:
    if description_fits(expected, description):
        return 1.0
    target = normalize_text(description)
    hints = [*SOURCE_WORDS.get(expected.source, ()), *expected.hints]
    best = 0.0
    for hint in hints:
        hint_text = normalize_text(hint)
        if not hint_text:
            continue
        for token in target.split() or [""]:
            best = max(best, SequenceMatcher(None, hint_text, token).ratio())
        best = max(best, SequenceMatcher(None, hint_text, target).ratio())
    return best


def score_candidate(expected: Expected, deposit: Deposit, *, window: int) -> Candidate:
    """0-100: half amount (exact = full, linear to zero at 10% off), 30 date (zero at twice the window),
    20 description. Rounded down, so only an exact match (amount, day and description) scores 100."""
    difference = deposit.amount_cents - expected.amount_cents
    base = max(abs(expected.amount_cents), 1)
    amount_part = 1.0 if difference == 0 else max(0.0, 1 - (abs(difference) / base) * 10)
    days = business_days_between(expected.on, deposit.on)
    date_part = max(0.0, 1 - days / max(2 * window, 1))
    similarity = description_similarity(expected, deposit.description)
    score = math.floor(50 * amount_part + 30 * date_part + 20 * similarity)
    reasons = []
    sign = "+" if difference > 0 else ""
    differs = f"amount differs by {sign}{format_money(difference, expected.currency)}"
    reasons.append("amount exact" if difference == 0 else differs)
    reasons.append(f"{days} business day{'s' if days != 1 else ''} apart")
    fits = description_fits(expected, deposit.description)
    reasons.append("description fits" if fits else f"description {round(similarity * 100)}% similar")
    return Candidate(deposit.id, score, difference, days, fits, tuple(reasons))


def _fits_window(expected: Expected, deposit: Deposit, window: int) -> bool:
    return (
        expected.currency == deposit.currency
        and business_days_between(expected.on, deposit.on) <= window
        and description_fits(expected, deposit.description)
    )


def _unique_exact_subset(target: int, pool: list, amount) -> tuple | None:
    """The one subset of 2..MAX_SPLIT_PARTS items summing exactly to target; None if none or ambiguous."""
    found = None
    for size in range(2, MAX_SPLIT_PARTS + 1):
        for combo in combinations(pool, size):
            if sum(amount(item) for item in combo) == target:
                if found is not None:
                    return None
                found = combo
    return found


def plan_auto_matches(expected: list[Expected], deposits: list[Deposit], *, window: int) -> list[PlannedMatch]:
    """What may be matched without a person: exact amount + currency + window + fitting description.

    1. one-to-one, closest date first; 2. a payout paid as several deposits whose sum is exact;
    3. several expected items landing as one deposit with an exact sum. A split is taken only when
    exactly one combination sums exactly; anything ambiguous is left for a person.
    """
    plans: list[PlannedMatch] = []
    used_e: set = set()
    used_d: set = set()

    by_amount: dict[tuple[str, int], list[Deposit]] = {}
    for d in deposits:
        by_amount.setdefault((d.currency, d.amount_cents), []).append(d)
    pairs = []
    for e in expected:
        for d in by_amount.get((e.currency, e.amount_cents), ()):
            if _fits_window(e, d, window):
                pairs.append((business_days_between(e.on, d.on), e.on, d.on, str(e.id), str(d.id), e, d))
    pairs.sort(key=lambda p: p[:5])
    for *_, e, d in pairs:
        if e.id in used_e or d.id in used_d:
            continue
        plans.append(PlannedMatch((e.id,), (d.id,), "exact"))
        used_e.add(e.id)
        used_d.add(d.id)

    for e in sorted(expected, key=lambda x: (x.on, str(x.id))):
        if e.id in used_e:
            continue
        pool = [d for d in deposits if d.id not in used_d and 0 < d.amount_cents < e.amount_cents]
        pool = [d for d in pool if _fits_window(e, d, window)]
        pool.sort(key=lambda d: (business_days_between(e.on, d.on), str(d.id)))
        combo = _unique_exact_subset(e.amount_cents, pool[:SPLIT_CANDIDATES], lambda d: d.amount_cents)
        if combo:
            plans.append(PlannedMatch((e.id,), tuple(d.id for d in combo), "split"))
            used_e.add(e.id)
            used_d.update(d.id for d in combo)

    for d in sorted(deposits, key=lambda x: (x.on, str(x.id))):
        if d.id in used_d:
            continue
        pool = [e for e in expected if e.id not in used_e and 0 < e.amount_cents < d.amount_cents]
        pool = [e for e in pool if _fits_window(e, d, window)]
        pool.sort(key=lambda e: (business_days_between(e.on, d.on), str(e.id)))
        combo = _unique_exact_subset(d.amount_cents, pool[:SPLIT_CANDIDATES], lambda e: e.amount_cents)
        if combo:
            plans.append(PlannedMatch(tuple(e.id for e in combo), (d.id,), "bundle"))
            used_d.add(d.id)
            used_e.update(e.id for e in combo)
    return plans


def rank_candidates(expected: Expected, deposits: list[Deposit], *, window: int, limit: int = 3) -> list[Candidate]:
    scored = [score_candidate(expected, d, window=window) for d in deposits if d.currency == expected.currency]
    scored = [c for c in scored if c.score >= 40]
    scored.sort(key=lambda c: (-c.score, c.business_days, str(c.deposit_id)))
    return scored[:limit]
