"""The words of a revenue digest, shared by Slack and Notion: pure functions over the `summary.*` payload.

Laid out like the specification's example:

    💰 Daily Revenue Summary (2025-12-04)

    A+ Enterprise LLC: $12,450.00
    Legacy Unchained Inc: $8,320.00
    Total: $20,770.00

    Events: 47 (Stripe: 32, Gumroad: 12, Manual: 3)

A daily digest leads with the morning view instead (alerts.morning): each entity's
day against the same weekday last week, week and month to date, then the open
alerts; then the money buckets (payments / refunds / disputes / disputes won back /
fees / adjustments, with "Gumroad fees not yet known" where so) / net and the average
transaction per currency, the rates used for any conversion, and amendments
for late events in periods already reported. Currencies are never added
together; a converted total says so.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from revenue.money import format_money, from_minor_units, minor_unit_exponent
from revenue.selectors.buckets import BUCKET_LABELS, GUMROAD_FEES_UNKNOWN
from revenue.selectors.dashboard import KpiFigure

TITLES = {"daily": "Daily", "weekly": "Weekly", "monthly": "Monthly"}
PROVIDER_ORDER = ("stripe", "gumroad", "manual")
PROVIDER_NAMES = {"stripe": "Stripe", "gumroad": "Gumroad", "manual": "Manual"}
SYMBOLS = {"USD": "$"}


def money(amount_minor: int, currency: str) -> str:
    """$12,450.00 for USD (as in the specification), '1,200.00 EUR' otherwise; never a float."""
    symbol = SYMBOLS.get(currency)
    if symbol is None:
        return format_money(amount_minor, currency)
    value = from_minor_units(abs(amount_minor), currency)
    text = f"{symbol}{value:,.{minor_unit_exponent(currency)}f}"
    return f"-{text}" if amount_minor < 0 else text


def signed_money(amount_minor: int, currency: str) -> str:
    return f"+{money(amount_minor, currency)}" if amount_minor >= 0 else money(amount_minor, currency)


# How a channel links a figure to its rows: (text, back office path) -> text. Plain text has no links.
Link = Callable[[str, str], str]
Escape = Callable[[str], str]


def plain(text: str, path: str) -> str:
    return text


def title(payload: dict) -> str:
    return f"💰 {TITLES.get(payload['period'], payload['period'].title())} Revenue Summary ({payload['label']})"


def amount_line(figures: dict, reporting_currency: str) -> str:
    """Net per currency; when anything is not in the reporting currency, the converted total too."""
    by_currency = figures.get("by_currency", {})
    if not by_currency:
        return money(0, reporting_currency)
    parts = " + ".join(money(m["net_cents"], c) for c, m in by_currency.items())
    if set(by_currency) == {reporting_currency}:
        return parts
    converted = money(figures["total_amount_cents"], reporting_currency)
    note = " at stated rates"
    if figures.get("unconverted_event_count"):
        note += f", no rate for {figures['unconverted_event_count']} event(s): left out"
    return f"{parts} (≈ {converted}{note})"


def events_line(figures: dict) -> str:
    counts = {name: data["event_count"] for name, data in figures.get("by_provider", {}).items()}
    ordered = [p for p in PROVIDER_ORDER if counts.get(p)] + sorted(p for p in counts if p not in PROVIDER_ORDER)
    detail = ", ".join(f"{PROVIDER_NAMES.get(p, p.title())}: {counts[p]}" for p in ordered)
    return f"Events: {figures.get('event_count', 0)}" + (f" ({detail})" if detail else "")


def _bucket_parts(m: dict, currency: str) -> list[str]:
    """The money buckets (revenue.selectors.buckets) by their names; empty buckets beyond payments and
    refunds are left out; fees not known yet are said so, never shown as zero."""
    parts = []
    for bucket, label in BUCKET_LABELS.items():
        amount = m.get(f"{bucket}_cents", m.get("gross_cents", 0) if bucket == "payments" else 0)
        if bucket in ("payments", "refunds") or amount:
            parts.append(f"{label} {money(amount, currency)}")
    if m.get("gumroad_fees_unknown"):
        parts.append(GUMROAD_FEES_UNKNOWN)
    return parts


def breakdown_lines(figures: dict) -> list[str]:
    """One line per currency: the money buckets, net, average transaction."""
    lines = []
    for currency, m in figures.get("by_currency", {}).items():
        parts = [*_bucket_parts(m, currency), f"Net {money(m['net_cents'], currency)}"]
        line = f"{currency}: " + " · ".join(parts)
        if m.get("average_transaction_cents") is not None:
            payments = f"{m['payment_count']} payment{'s' if m['payment_count'] != 1 else ''}"
            line += f" · Avg transaction {money(m['average_transaction_cents'], currency)} ({payments})"
        lines.append(line)
    return lines


def rate_lines(figures: dict, reporting_currency: str) -> list[str]:
    lines = []
    for currency, stated in figures.get("fx", {}).items():
        rates = ", ".join(
            f"{low} ({source})" if low == high else f"{low} to {high} ({source})"
            for source, (low, high) in stated.get("rates", {}).items()
        )
        line = f"Rate {currency}→{reporting_currency}: {rates or 'no rate'}"
        if stated.get("unconverted_event_count"):
            line += f"; no rate for {stated['unconverted_event_count']} event(s)"
        lines.append(line)
    return lines


def amendment_lines(payload: dict) -> list[str]:
    lines = []
    for amendment in payload.get("amendments", []):
        changes = "; ".join(
            f"now {money(c['net_cents'], currency)} ({signed_money(c['delta_net_cents'], currency)}, "
            f"{c['delta_event_count']:+d} event{'s' if abs(c['delta_event_count']) != 1 else ''})"
            for currency, c in amendment["by_currency"].items()
        )
        lines.append(f"Amendment: {amendment['entity_name']} {amendment['label']} {changes} (late events)")
    return lines


def revision_lines(payload: dict) -> list[str]:
    """A revised summary (`summary.revised.*`): what moved since it was first sent, per entity and currency."""
    lines = [f"Revised: {title(payload).removeprefix('💰 ')} changed after it was sent."]
    for change in payload.get("amendments", []):
        for currency, c in change["by_currency"].items():
            lines.append(
                f"{change['entity_name']}: net was {money(c['before_net_cents'], currency)}, "
                f"now {money(c['net_cents'], currency)} ({signed_money(c['delta_net_cents'], currency)}, "
                f"{c['delta_event_count']:+d} row{'s' if abs(c['delta_event_count']) != 1 else ''})"
            )
    lines.append("Corrections and late rows dated in the period; the figures below replace the ones first sent.")
    return lines


def as_of_line(payload: dict) -> str:
    as_of = datetime.fromisoformat(payload["as_of"]).astimezone(ZoneInfo(payload["time_zone"]))
    return f"As of {as_of:%Y-%m-%d %H:%M %Z} ({payload['time_zone']})"


def entity_lines(payload: dict, *, link: Link = plain, escape: Escape = str) -> list[str]:
    """Per entity, then the total. A daily digest carrying the morning view leads with it instead:
    the day against the same weekday last week, week to date and month to date."""
    reporting = payload["reporting_currency"]
    if payload.get("morning"):
        return morning_lines(payload["morning"], reporting, link=link, escape=escape)
    lines = [f"{escape(entity['name'])}: {amount_line(entity, reporting)}" for entity in payload["entities"]]
    lines.append(f"Total: {amount_line(payload['total'], reporting)}")
    return lines


def _morning_part(line: dict, weekday: str, link: Link) -> str:
    currency, urls = line["currency"], line["urls"]
    change = KpiFigure(currency, line["day_cents"], line["compare_day_cents"]).change_display
    compare = link(money(line["compare_day_cents"], currency), urls["compare_day"])
    return (
        f"{link(money(line['day_cents'], currency), urls['day'])} (last {weekday} {compare}, {change})"
        f" · week to date {link(money(line['week_to_date_cents'], currency), urls['week_to_date'])}"
        f" · month to date {link(money(line['month_to_date_cents'], currency), urls['month_to_date'])}"
    )


def morning_lines(morning: dict, reporting: str, *, link: Link = plain, escape: Escape = str) -> list[str]:
    """One line per entity, then the total (as in the specification's example); currencies side by side."""
    weekday = f"{date.fromisoformat(morning['compare_day']):%a}"
    totals, entities = morning["scopes"][:1], morning["scopes"][1:]
    lines = []
    for scope in entities + totals:
        name = escape(scope["name"]) if scope["slug"] else "Total"
        parts = [_morning_part(line, weekday, link) for line in scope["lines"]] or [money(0, reporting)]
        lines.append(f"{name}: " + "; ".join(parts))
    return lines


def alert_lines(payload: dict, *, link: Link = plain) -> list[str]:
    """The open alerts of the morning view, most severe first; each whole line links to its alert
    (so a channel that escapes text does it in `link`)."""
    morning = payload.get("morning")
    if not morning:
        return []
    count = morning["open_alert_count"]
    if not count:
        return ["Open alerts: none"]
    lines = [f"Open alerts: {link(str(count), morning['alerts_url'])}"]
    for alert in morning["alerts"]:
        about = f" ({alert['entity']})" if alert["entity"] else ""
        text = f"{alert['severity'].title()} · {alert['type']}{about}: {alert['message']}"
        lines.append(f"• {link(text, alert['url'])}")
    if count > len(morning["alerts"]):
        lines.append(f"• and {count - len(morning['alerts'])} more")
    return lines


def whole_money(amount_minor: int, currency: str) -> str:
    """'41,200 USD': a projection is not exact to the cent, so it is shown in whole units."""
    whole = from_minor_units(amount_minor, currency).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return f"{whole:,f} {currency}"


def _projection_part(projection: dict, currency: str, name: str) -> str:
    if projection["actual_through"] >= projection["last_day"]:
        return f"{name} closed at {whole_money(projection['actual_cents'], currency)}"
    low, high = (
        from_minor_units(projection[key], currency).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        for key in ("lower80_cents", "upper80_cents")
    )
    return f"projected {name} {whole_money(projection['projected_cents'], currency)}, 80% range {low:,f}\u2013{high:,f}"


def forecast_lines(payload: dict, *, escape: Escape = str) -> list[str]:
    """Per entity and currency: month to date, the projected month and quarter with their 80% range
    (forecasts: actual through the digest's day, the forecast's simulated rest); or why there is none."""
    forecast = payload.get("forecast")
    if not forecast or not forecast["outlooks"]:
        return []
    lines = ["Forecast (actual to date + forecast rest):"]
    for outlook in forecast["outlooks"]:
        currency, month, quarter = outlook["currency"], outlook["month"], outlook["quarter"]
        name = f"{escape(outlook['entity_name'])} {currency}"
        if outlook["status"] == "failed":
            lines.append(f"{name}: no forecast tonight (the model could not be fitted)")
            continue
        if month is None:
            lines.append(f"{name}: not enough history ({outlook['history_days']} days; 56 needed)")
            continue
        parts = [
            f"Month to date {whole_money(month['actual_cents'], currency)}",
            _projection_part(month, currency, "month"),
        ]
        if quarter is not None:
            parts.append(_projection_part(quarter, currency, "quarter"))
        lines.append(f"{name}: " + "; ".join(parts))
    return lines


def summary_text(payload: dict, *, insight: str | None = None) -> str:
    """The plain-text digest (Slack's fallback, Notion's page body)."""
    reporting = payload["reporting_currency"]
    total = payload["total"]
    sections = [
        [title(payload)],
        entity_lines(payload),
        alert_lines(payload),
        [events_line(total)],
        breakdown_lines(total) + rate_lines(total, reporting),
        forecast_lines(payload),
        amendment_lines(payload),
        [f"Insight: {insight}"] if insight else [],
        [as_of_line(payload)],
    ]
    return "\n\n".join("\n".join(section) for section in sections if section)
