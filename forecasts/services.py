"""Writes for forecasts: fit every entity and currency series and store the result, once a night.

Beat ticks every 15 minutes (as for summaries: crontabs drift on DST days); the tick decides in
business time whether tonight's fit is due: from 06:10 America/Chicago, after the 06:00 summary,
for the last complete business day, for every series that has no forecast through that day yet.
The unique (entity, currency, last_actual_day) row makes two beats at once store one forecast.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from revenue.business_time import business_local
from revenue.models import Entity

from . import engine
from .models import RevenueForecast
from .selectors import History, daily_histories

logger = logging.getLogger(__name__)

FIT_AFTER = time(6, 10)  # business time: after the 06:00 summaries


def _forecast_row(*, history: History, now: datetime) -> RevenueForecast:
    """An unsaved forecast for one series: the fitted model, or "not enough history"."""
    common = {
        "entity_id": history.entity_id,
        "currency": history.currency,
        "last_actual_day": history.last_day,
        "history_days": history.history_days,
        "generated_at": now,
    }
    if not engine.has_enough_history(history.history_days):
        return RevenueForecast(status=RevenueForecast.Status.NOT_ENOUGH_HISTORY, **common)
    try:
        fit = engine.fit_forecast(
            history.values, first_day=history.first_day, country=settings.FORECAST_HOLIDAY_COUNTRY
        )
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
        # One series the optimiser cannot handle must not stop the others' forecasts.
        logger.exception("forecast fit failed for entity %s %s", history.entity_id, history.currency)
        return RevenueForecast(status=RevenueForecast.Status.FAILED, parameters={"error": str(error)[:500]}, **common)
    return RevenueForecast(
        status=RevenueForecast.Status.OK,
        model_name=fit.model_name,
        fit_first_day=fit.first_day,
        parameters=fit.parameters,
        mean_cents=fit.band.mean,
        lower80_cents=fit.band.lower80,
        upper80_cents=fit.band.upper80,
        lower95_cents=fit.band.lower95,
        upper95_cents=fit.band.upper95,
        period_tails=[tail.as_json() for tail in fit.tails],
        **common,
    )


@dataclass(frozen=True)
class FitReport:
    last_day: date
    stored: int
    skipped: int  # already fitted through last_day


@transaction.atomic
def forecasts_fit(
    *,
    last_day: date,
    now: datetime | None = None,
    entity: Entity | None = None,
    currency: str | None = None,
    refit: bool = False,
) -> FitReport:
    """Fit and store the forecast through `last_day` of every entity and currency series (or the one asked).

    Series already fitted through `last_day` are kept unless `refit`, which replaces them.
    """
    now = now or timezone.now()
    existing = RevenueForecast.objects.filter(last_actual_day=last_day)
    if entity is not None:
        existing = existing.filter(entity=entity)
    if currency is not None:
        existing = existing.filter(currency=currency)
    if refit:
        existing.delete()
        done: set[tuple[int, str]] = set()
    else:
        done = set(existing.values_list("entity_id", "currency"))
    rows = [
        _forecast_row(history=history, now=now)
        for history in daily_histories(last_day=last_day, entity=entity, currency=currency)
        if (history.entity_id, history.currency) not in done
    ]
    # Another beat may have stored the same night meanwhile: its row stands.
    RevenueForecast.objects.bulk_create(rows, ignore_conflicts=True)
    logger.info("forecasts through %s: %d stored, %d already there", last_day, len(rows), len(done))
    return FitReport(last_day=last_day, stored=len(rows), skipped=len(done))


def forecasts_fit_due(*, now: datetime | None = None) -> FitReport | None:
    """The tick: from 06:10 business time, fit through yesterday whatever is not fitted yet."""
    now = now or timezone.now()
    local = business_local(now)
    if local.time() < FIT_AFTER:
        return None
    return forecasts_fit(last_day=local.date() - timedelta(days=1), now=now)
