"""The dashboard page and its JSON endpoints. Thin: validate filters -> selectors -> render.

The chart endpoints are django-chartjs views. Every chart is drawn by Chart.js,
so all of them build on `BaseLineChartView`, whose `{labels, datasets}` is
Chart.js's own data format whatever the chart type (line, doughnut, bar); the
package's column and pie views emit HighCharts configuration instead.
Amounts are integer minor units; `exponent` tells the browser where the
decimal point goes, and every table cell is formatted by `format_money`.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from itertools import cycle

from chartjs.views.lines import BaseLineChartView
from django.contrib.admin.views.decorators import staff_member_required
from django.http import JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from django.views.generic import View

from alerts.morning import morning_view
from alerts.selectors import open_alerts
from forecasts.selectors import ForecastBand, forecast_bands
from revenue import selectors
from revenue.business_time import business_now, business_zone, day_start, month_end
from revenue.models import Entity
from revenue.money import format_money, minor_unit_exponent

from .forms import DashboardFilterForm, DashboardFilters

REFRESH_SECONDS = 30

# Colour-blind-friendly palette (Okabe-Ito), as RGB tuples for django-chartjs.
PALETTE = [(0, 114, 178), (230, 159, 0), (0, 158, 115), (204, 121, 167), (86, 180, 233), (213, 94, 0)]
PAYOUT_COLOURS = {
    "paid": (0, 158, 115),
    "in_transit": (86, 180, 233),
    "pending": (230, 159, 0),
    "failed": (213, 94, 0),
    "canceled": (140, 140, 140),
}


def _rgba(color: tuple[int, int, int], alpha: float = 1) -> str:
    red, green, blue = color
    return f"rgba({red}, {green}, {blue}, {alpha})"


def _entities() -> list[Entity]:
    return list(Entity.objects.order_by("name"))


def _currencies(filters: DashboardFilters) -> list[str]:
    currencies = selectors.ledger_currencies(since=day_start(filters.today - timedelta(days=365)))
    if filters.currency not in currencies:
        currencies.append(filters.currency)
    return currencies


def _panels_context(filters: DashboardFilters, entities: list[Entity]) -> dict:
    """What the cards, events table and alerts list show (page and refresh alike)."""
    return {
        "filters": filters,
        "morning": morning_view(entity=filters.entity, entities=entities),
        "cards": selectors.kpi_cards(now=timezone.now(), entities=entities, entity=filters.entity),
        "events": selectors.recent_events(entity=filters.entity),
        "alerts": open_alerts(entity=filters.entity),
        "business_tz": business_zone(),
        "generated_at": business_now(),
    }


def _endpoints() -> dict[str, str]:
    return {
        "summary": reverse("dashboard:summary"),
        "daily": reverse("dashboard:chart-daily-net"),
        "providers": reverse("dashboard:chart-providers"),
        "monthly": reverse("dashboard:chart-monthly"),
        "payouts": reverse("dashboard:chart-payouts"),
    }


@never_cache
@staff_member_required
def dashboard(request):
    """The page, fully rendered on the server; the script then draws the charts and refreshes it."""
    entities = _entities()
    submitted = DashboardFilterForm(request.GET or None, entities=entities)
    if submitted.is_bound and not submitted.is_valid():
        filters, status, filter_error = DashboardFilterForm.defaults(), 400, submitted.error_message()
    else:
        filters = submitted.filters() if submitted.is_bound else DashboardFilterForm.defaults()
        status, filter_error = 200, ""
    form = DashboardFilterForm(initial=filters.as_query(), entities=entities, currencies=_currencies(filters))
    context = {
        **_panels_context(filters, entities),
        "form": form,
        "filter_error": filter_error,
        "config": {
            "endpoints": _endpoints(),
            "refreshSeconds": REFRESH_SECONDS,
            "query": filters.as_query(),
            "timeZone": business_zone().key,
        },
    }
    return render(request, "dashboard/index.html", context, status=status)


class StaffJSONMixin:
    """Staff only, filters validated: 403/400 as JSON {code, message}, never a login page or a 5xx."""

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if not (user.is_authenticated and user.is_active and user.is_staff):
            response = JsonResponse(
                {"code": "staff_login_required", "message": "Sign in to the admin as a staff user."}, status=403
            )
        else:
            self.entities = _entities()
            form = DashboardFilterForm(request.GET, entities=self.entities)
            if form.is_valid():
                self.filters = form.filters()
                response = super().dispatch(request, *args, **kwargs)
            else:
                response = JsonResponse({"code": "invalid_filter", "message": form.error_message()}, status=400)
        add_never_cache_headers(response)
        return response


class SummaryView(StaffJSONMixin, View):
    """Cards, recent events and open alerts as HTML fragments, for the 30-second refresh."""

    http_method_names = ["get"]

    def get(self, request, *args, **kwargs):
        context = _panels_context(self.filters, self.entities)
        return JsonResponse(
            {
                "morning_html": render_to_string("dashboard/_morning.html", context, request=request),
                "kpis_html": render_to_string("dashboard/_kpis.html", context, request=request),
                "events_html": render_to_string("dashboard/_events.html", context, request=request),
                "alerts_html": render_to_string("dashboard/_alerts.html", context, request=request),
                "alert_count": len(context["alerts"]),
                "currencies": _currencies(self.filters),
                "generated_at": context["generated_at"].isoformat(),
            }
        )


class ChartView(StaffJSONMixin, BaseLineChartView):
    """A Chart.js `{labels, datasets}` payload plus a text summary and a table alternative."""

    http_method_names = ["get"]
    title = ""

    def get_colors(self):
        return cycle(PALETTE)

    @property
    def currency(self) -> str:
        return self.filters.currency

    def money(self, amount: int) -> str:
        return format_money(amount, self.currency)

    def bucket_cells(self, buckets: selectors.MoneyBuckets) -> list[str]:
        """The money buckets then net, formatted; unknown Gumroad fees say so instead of a zero."""
        cells = []
        for name in selectors.BUCKETS:
            cell = self.money(getattr(buckets, f"{name}_cents"))
            if name == "fees" and buckets.gumroad_fees_unknown:
                cell += f" ({selectors.GUMROAD_FEES_UNKNOWN})"
            cells.append(cell)
        return [*cells, self.money(buckets.net_cents)]

    def get_summary(self) -> str:
        raise NotImplementedError

    def get_table(self) -> dict:
        raise NotImplementedError

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.pop("view", None)  # TemplateView adds the view object; it is not data
        context.update(
            {
                "title": self.title,
                "currency": self.currency,
                "exponent": minor_unit_exponent(self.currency),
                "range_days": self.filters.range_days,
                "entity": self.filters.entity.slug if self.filters.entity else None,
                "summary": self.get_summary(),
                "table": self.get_table(),
            }
        )
        return context


class DailyNetChartView(ChartView):
    """Line: net revenue per business day, one dataset per entity, in one currency; where a forecast
    exists (forecasts), the chart continues past today as the expected day inside its 80% band."""

    title = "Daily net revenue"
    FORECAST_MIN_DAYS = 14  # the band runs to month end, and at least two weeks ahead

    @cached_property
    def result(self) -> selectors.DailyNetSeries:
        return selectors.daily_net_revenue(
            currency=self.currency,
            first_day=self.filters.first_day,
            last_day=self.filters.today,
            entities=self.entities,
            entity=self.filters.entity,
        )

    @cached_property
    def bands(self) -> list[ForecastBand]:
        today = self.filters.today
        last_day = max(month_end(today), today + timedelta(days=self.FORECAST_MIN_DAYS - 1))
        return forecast_bands(currency=self.currency, today=today, last_day=last_day, entity=self.filters.entity)

    @cached_property
    def future_days(self) -> list:
        longest = max((band.days for band in self.bands), key=len, default=[])
        return longest[1:]  # today is already on the chart

    def get_labels(self):
        return [day.isoformat() for day in [*self.result.days, *self.future_days]]

    def get_providers(self):
        return [entity.name for entity, _ in self.result.series]

    def get_data(self):
        padding = [None] * len(self.future_days)
        return [[*values, *padding] for _, values in self.result.series]

    def get_dataset_options(self, index, color):
        return {
            "borderColor": _rgba(color),
            "backgroundColor": _rgba(color, 0.12),
            "pointBackgroundColor": _rgba(color),
            "pointRadius": 0,
            "pointHoverRadius": 4,
            "borderWidth": 2,
            "cubicInterpolationMode": "monotone",  # smooth without overshooting below zero
            "fill": False,
        }

    def get_datasets(self):
        datasets = super().get_datasets()
        lead = [None] * (len(self.result.days) - 1)  # the band starts at today
        colours = {entity.pk: PALETTE[i % len(PALETTE)] for i, (entity, _) in enumerate(self.result.series)}
        for band in self.bands:
            if not band.days:
                continue
            colour = colours.get(band.outlook.entity.pk, PALETTE[0])
            name = band.outlook.entity.name
            common = {"pointRadius": 0, "pointHoverRadius": 3, "borderWidth": 1, "forecast": True}
            datasets += [
                {
                    "label": f"{name} 80% low",
                    "data": [*lead, *band.lower80_cents],
                    "borderColor": _rgba(colour, 0.35),
                    "backgroundColor": _rgba(colour, 0.15),
                    "fill": False,
                    "bound": True,
                    **common,
                },
                {
                    "label": f"{name} 80% high",
                    "data": [*lead, *band.upper80_cents],
                    "borderColor": _rgba(colour, 0.35),
                    "backgroundColor": _rgba(colour, 0.15),
                    "fill": "-1",
                    "bound": True,
                    **common,
                },
                {
                    "label": f"{name} forecast",
                    "data": [*lead, *band.mean_cents],
                    "borderColor": _rgba(colour),
                    "backgroundColor": _rgba(colour, 0.15),
                    "borderDash": [6, 4],
                    "fill": False,
                    **common,
                },
            ]
        return datasets

    def projection_sentences(self) -> list[str]:
        sentences = []
        for band in self.bands:
            outlook, month = band.outlook, band.outlook.month
            if month is None:
                why = "no forecast tonight" if outlook.forecast.status == "failed" else "not enough history"
                sentences.append(f"{outlook.entity.name}: {why} for a forecast")
                continue
            sentences.append(
                f"{outlook.entity.name}: month to date {self.money(month.actual_cents)}, projected month "
                f"{self.money(month.projected_cents)} (80% range {self.money(month.lower80_cents)} to "
                f"{self.money(month.upper80_cents)})"
            )
        return sentences

    def get_summary(self) -> str:
        parts = [f"{entity.name} {self.money(sum(values))}" for entity, values in self.result.series]
        text = f"Net revenue in {self.currency} over the last {self.filters.range_days} days: " + "; ".join(parts)
        best = max(
            (
                (day, values[i], entity)
                for entity, values in self.result.series
                for i, day in enumerate(self.result.days)
            ),
            key=lambda item: item[1],
            default=None,
        )
        if best and best[1] > 0:
            text += f". Best day: {best[0]:%b %-d, %Y} ({best[2].name}, {self.money(best[1])})"
        projections = self.projection_sentences()
        if projections:
            text += ". Forecast (dashed, 80% band): " + "; ".join(projections)
        return text + "."

    def get_table(self) -> dict:
        rows = [
            [day.isoformat(), *(self.money(values[i]) for _, values in self.result.series)]
            for i, day in enumerate(self.result.days)
        ]
        by_entity = {band.outlook.entity.pk: band for band in self.bands if band.days}
        for offset, day in enumerate(self.future_days, start=1):
            cells = []
            for entity, _ in self.result.series:
                band = by_entity.get(entity.pk)
                if band is None or offset >= len(band.days):
                    cells.append("")
                    continue
                cells.append(
                    f"forecast {self.money(band.mean_cents[offset])} (80%: {self.money(band.lower80_cents[offset])} "
                    f"to {self.money(band.upper80_cents[offset])})"
                )
            rows.append([day.isoformat(), *cells])
        return {"columns": ["Business day", *self.get_providers()], "rows": rows}


class ProviderChartView(ChartView):
    """Doughnut: net revenue by provider. Providers with no positive net are in the table only."""

    title = "Revenue by provider"

    @cached_property
    def result(self) -> list[selectors.ProviderTotal]:
        return selectors.revenue_by_provider(
            currency=self.currency,
            first_day=self.filters.first_day,
            last_day=self.filters.today,
            entity=self.filters.entity,
        )

    @cached_property
    def drawn(self) -> list[selectors.ProviderTotal]:
        return [total for total in self.result if total.net_cents > 0]

    def get_labels(self):
        return [total.label for total in self.drawn]

    def get_providers(self):
        return ["Net revenue"]

    def get_data(self):
        return [[total.net_cents for total in self.drawn]]

    def get_dataset_options(self, index, color):
        colors = [PALETTE[i % len(PALETTE)] for i in range(len(self.drawn))]
        return {
            "backgroundColor": [_rgba(c) for c in colors],
            "borderColor": "#fff",
            "borderWidth": 2,
            "hoverOffset": 6,
        }

    def get_summary(self) -> str:
        if not self.result:
            return f"No {self.currency} revenue in the last {self.filters.range_days} days."
        total = sum(t.net_cents for t in self.result)
        parts = [f"{t.label} {self.money(t.net_cents)}" for t in self.result]
        return f"Net revenue in {self.currency} by provider, last {self.filters.range_days} days: " + (
            "; ".join(parts) + f" (total {self.money(total)})."
        )

    def get_table(self) -> dict:
        return {
            "columns": ["Provider", *selectors.BUCKET_LABELS.values(), "Net", "Events"],
            "rows": [[t.label, *self.bucket_cells(t.buckets), t.event_count] for t in self.result],
        }


class MonthlyChartView(ChartView):
    """Bar: the money buckets per business month (payments up, refunds, disputes and fees down), net as a line."""

    title = "Monthly payments, refunds, disputes and fees"
    BARS = ("payments", "refunds", "disputes", "fees")

    @cached_property
    def result(self) -> list[selectors.MonthTotal]:
        return selectors.monthly_buckets(
            currency=self.currency,
            first_day=self.filters.first_day,
            last_day=self.filters.today,
            entity=self.filters.entity,
        )

    def get_labels(self):
        return [f"{month.month:%b %Y}" for month in self.result]

    def get_providers(self):
        return [*(selectors.BUCKET_LABELS[name] for name in self.BARS), "Net"]

    def get_data(self):
        bars = [[getattr(m.buckets, f"{name}_cents") for m in self.result] for name in self.BARS]
        return [*bars, [m.net_cents for m in self.result]]

    def get_colors(self):
        return iter([PALETTE[2], PALETTE[5], PALETTE[3], PALETTE[1], PALETTE[0]])

    def get_dataset_options(self, index, color):
        if index == len(self.BARS):
            return {
                "type": "line",
                "borderColor": _rgba(color),
                "backgroundColor": _rgba(color),
                "pointRadius": 3,
                "borderWidth": 2,
                "order": 0,
            }
        return {"backgroundColor": _rgba(color, 0.85), "borderRadius": 3, "order": 1}

    def get_summary(self) -> str:
        """Per month the buckets that are not zero (and unknown Gumroad fees), then net."""
        parts = []
        for m in self.result:
            labels = [*selectors.BUCKET_LABELS.values(), "Net"]
            values = [*(getattr(m.buckets, f"{name}_cents") for name in selectors.BUCKETS), m.net_cents]
            cells = zip(labels, self.bucket_cells(m.buckets), values, strict=True)
            shown = [f"{label.lower()} {cell}" for label, cell, value in cells if value or label == "Net"]
            if m.buckets.gumroad_fees_unknown and not m.buckets.fees_cents:
                shown.insert(-1, selectors.GUMROAD_FEES_UNKNOWN)
            parts.append(f"{m.month:%b %Y}: " + ", ".join(shown))
        return f"Monthly totals in {self.currency}. " + "; ".join(parts) + "."

    def get_table(self) -> dict:
        return {
            "columns": ["Month", *selectors.BUCKET_LABELS.values(), "Net"],
            "rows": [[f"{m.month:%b %Y}", *self.bucket_cells(m.buckets)] for m in self.result],
        }


class PayoutChartView(ChartView):
    """Strip: payouts (expected bank deposits) by status, counted across currencies, amounts per currency."""

    title = "Payouts by status"

    @cached_property
    def result(self) -> list[selectors.PayoutStatusTotal]:
        return selectors.payout_status_totals(first_day=self.filters.first_day, entity=self.filters.entity)

    def get_labels(self):
        return ["Payouts"]

    def get_providers(self):
        return [total.label for total in self.result]

    def get_data(self):
        return [[total.count] for total in self.result]

    def get_colors(self):
        return iter([PAYOUT_COLOURS[total.status] for total in self.result])

    def get_dataset_options(self, index, color):
        return {"backgroundColor": _rgba(color), "borderWidth": 0, "barThickness": 22}

    def get_summary(self) -> str:
        if not any(total.count for total in self.result):
            return f"No payouts in the last {self.filters.range_days} days."
        parts = [
            f"{total.label} {total.count} ({', '.join(total.amounts_display)})" for total in self.result if total.count
        ]
        return f"Payouts in the last {self.filters.range_days} days: " + "; ".join(parts) + "."

    def get_table(self) -> dict:
        return {
            "columns": ["Status", "Payouts", "Amount"],
            "rows": [
                [total.label, total.count, ", ".join(total.amounts_display) or "—"]
                for total in self.result
                if total.count
            ],
        }

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["statuses"] = [
            {
                "status": total.status,
                "label": total.label,
                "count": total.count,
                "amounts": total.amounts_display,
                "color": _rgba(PAYOUT_COLOURS[total.status]),
            }
            for total in self.result
        ]
        # Counts add up across currencies; amounts never do (they are listed per currency).
        context["currency"] = None
        context["exponent"] = None
        return context
