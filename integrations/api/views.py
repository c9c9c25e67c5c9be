"""The Atlas API: one thin view per operation (validate -> one selector/service -> serialize)."""

from __future__ import annotations

from datetime import timedelta

from django.http import QueryDict, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from forecasts.selectors import forecast_outlooks, forecast_series_body
from revenue.business_time import business_today, business_zone
from revenue.errors import ApplicationError
from revenue.models import Entity
from revenue.periods import Cadence, period_containing, period_count
from revenue.selectors import (
    entity_by_slug,
    revenue_events_list,
    revenue_events_page,
    revenue_totals,
    revenue_trends,
)

from ..models import WebhookSubscription
from ..services.subscriptions import subscription_create, subscription_delete, subscription_get
from . import serializers as s
from .authentication import ApiKeyAuthentication
from .export import export_csv, export_json
from .permissions import ReadScope, SubscribeScope
from .throttling import ApiKeyRateThrottle

ERRORS = {
    400: OpenApiResponse(s.ErrorSerializer, description="Invalid input."),
    401: OpenApiResponse(s.ErrorSerializer, description="Missing, invalid, expired or revoked API key."),
    403: OpenApiResponse(s.ErrorSerializer, description="The key lacks the scope."),
    429: OpenApiResponse(s.ErrorSerializer, description="Too many requests; see Retry-After."),
}


class AlwaysJson(DefaultContentNegotiation):
    """Answers are JSON (or the export's own stream); `?format=` is the export's parameter, not DRF's."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ApiView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [ReadScope]
    throttle_classes = [ApiKeyRateThrottle]
    content_negotiation_class = AlwaysJson

    @staticmethod
    def validated(serializer_class, data) -> dict:
        serializer = serializer_class(data=data)
        if isinstance(data, QueryDict):
            # DRF reads `?x=` as "x not given"; an empty filter is more likely a client bug: say so.
            empty = {name: ["must not be empty"] for name in serializer.fields if data.get(name, None) == ""}
            if empty:
                raise ValidationError(empty)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @staticmethod
    def entity(slug: str | None) -> Entity | None:
        if not slug:
            return None
        entity = entity_by_slug(slug)
        if entity is None:
            raise ApplicationError(f"Unknown entity '{slug}'", code="unknown_entity")
        return entity

    def filters(self, data: dict) -> dict:
        return {
            "provider": data.get("provider"),
            "entity": self.entity(data.get("entity")),
            "kind": data.get("kind"),
            "currency": data.get("currency"),
            "occurred_from": data.get("occurred_from"),
            "occurred_to": data.get("occurred_to"),
            "updated_since": data.get("updated_since"),
        }


class TotalsView(ApiView):
    @extend_schema(
        operation_id="revenue_totals",
        summary="Today, week to date and month to date, per entity, provider and currency",
        parameters=[s.TotalsQuerySerializer],
        responses={200: s.TotalsSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = self.validated(s.TotalsQuerySerializer, request.query_params)
        entity = self.entity(query.get("entity"))
        totals = revenue_totals(as_of=query.get("as_of"), entity=entity)
        periods = {
            period.name: {
                "first_day": period.first_day,
                "start_at": period.start_at,
                "end_at": period.end_at,
                "rows": totals.rows[period.name],
                "by_currency": totals.by_currency[period.name],
            }
            for period in totals.periods
        }
        body = {
            "as_of": totals.as_of,
            "business_date": totals.business_date,
            "time_zone": str(business_zone()),
            "entity": entity.slug if entity else None,
            "periods": periods,
        }
        return Response(s.TotalsSerializer(body).data)


class TrendsView(ApiView):
    DEFAULT_SPAN = {Cadence.DAILY: 29, Cadence.WEEKLY: 11, Cadence.MONTHLY: 11}  # periods before the current one

    @extend_schema(
        operation_id="revenue_trends",
        summary="Daily, weekly or monthly series per currency with period-over-period growth",
        parameters=[s.TrendsQuerySerializer],
        responses={200: s.TrendsSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = self.validated(s.TrendsQuerySerializer, request.query_params)
        cadence = Cadence(query["granularity"])  # the API's `granularity` is the cadence
        today = business_today()
        end = query.get("end") or today
        start = query.get("start")
        if start is None:
            period = period_containing(cadence, end)
            for _ in range(self.DEFAULT_SPAN[cadence]):
                period = period.previous()
            start = period.first_day
        if start > end:
            raise ApplicationError("start must not be after end", code="invalid_range")
        if period_count(cadence, start, end) > s.MAX_TREND_POINTS:
            raise ApplicationError(f"At most {s.MAX_TREND_POINTS} periods per request", code="range_too_long")
        trends = revenue_trends(
            cadence=cadence,
            start=start,
            end=end,
            entity=self.entity(query.get("entity")),
            provider=query.get("provider"),
            today=today,
        )
        body = {
            "granularity": trends.cadence,
            "start": trends.start,
            "end": trends.end,
            "time_zone": str(business_zone()),
            "series": [{"currency": currency, "points": points} for currency, points in trends.series.items()],
        }
        return Response(s.TrendsSerializer(body).data)


class ForecastView(ApiView):
    @extend_schema(
        operation_id="revenue_forecast",
        summary="Daily net revenue forecast with 80%/95% bounds, and month / quarter projections",
        description=(
            "Per entity and currency, the newest nightly forecast (ETS with a weekly season, fitted at 06:10 "
            "business time) and the month and quarter containing the last complete business day: actual so far "
            "plus the forecast rest, with an 80% interval from simulated paths. Amounts are integer minor units."
        ),
        parameters=[s.ForecastQuerySerializer],
        responses={200: s.ForecastSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = self.validated(s.ForecastQuerySerializer, request.query_params)
        day = business_today() - timedelta(days=1)
        outlooks = forecast_outlooks(day=day, entity=self.entity(query.get("entity")), currency=query.get("currency"))
        body = {
            "as_of_day": day,
            "time_zone": str(business_zone()),
            "series": [forecast_series_body(outlook) for outlook in outlooks],
        }
        return Response(s.ForecastSerializer(body).data)


class EventsView(ApiView):
    @extend_schema(
        operation_id="revenue_events",
        summary="Ledger rows in (occurred_at, id) order, cursor-paginated (no total count)",
        parameters=[s.EventsQuerySerializer],
        responses={200: s.EventsPageSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = self.validated(s.EventsQuerySerializer, request.query_params)
        queryset = revenue_events_list(**self.filters(query))
        events, more = revenue_events_page(queryset, limit=query["limit"], after=query.get("cursor"))
        next_cursor = s.cursor_encode(events[-1].occurred_at, events[-1].pk) if more else None
        next_url = None
        if next_cursor:
            params = request.query_params.copy()
            params["cursor"] = next_cursor
            next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
        body = {"results": events, "next_cursor": next_cursor, "next": next_url}
        return Response(s.EventsPageSerializer(body).data)


class ExportView(ApiView):
    @extend_schema(
        operation_id="revenue_export",
        summary="Every matching ledger row, streamed as CSV or a JSON array",
        description=(
            "Same filters as /events. CSV text cells that start with = + - @ TAB or CR are prefixed "
            "with ' (formula injection). Times are given in UTC and in the business time zone, named "
            "in the `time_zone` column and the X-Business-Time-Zone header."
        ),
        parameters=[s.ExportQuerySerializer],
        responses={
            # JSON first: schemathesis validates a body against the first media type listed.
            (200, "application/json"): s.ExportRowSerializer(many=True),
            (200, "text/csv"): OpenApiTypes.STR,
            **ERRORS,
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        query = self.validated(s.ExportQuerySerializer, request.query_params)
        queryset = revenue_events_list(**self.filters(query))
        if query["format"] == "json":
            response = StreamingHttpResponse(export_json(queryset), content_type="application/json")
        else:
            response = StreamingHttpResponse(export_csv(queryset), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = 'attachment; filename="revenue-events.csv"'
        response["X-Business-Time-Zone"] = str(business_zone())
        return response


def _subscription_body(subscription: WebhookSubscription) -> dict:
    return {
        "id": subscription.pk,
        "url": subscription.url,
        "event_types": subscription.event_types,
        "threshold_amount_cents": subscription.threshold_amount_cents,
        "threshold_currency": subscription.threshold_currency,
        "status": subscription.status,
        "disabled_reason": subscription.disabled_reason,
        "created_at": subscription.created_at,
    }


class SubscriptionsView(ApiView):
    permission_classes = [SubscribeScope]

    @extend_schema(
        operation_id="subscriptions_list",
        summary="This key's webhook subscriptions",
        responses={200: s.SubscriptionListSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        subscriptions = WebhookSubscription.objects.filter(created_by=request.auth).exclude(
            status=WebhookSubscription.Status.DELETED
        )
        body = {"results": [_subscription_body(subscription) for subscription in subscriptions]}
        return Response(s.SubscriptionListSerializer(body).data)

    @extend_schema(
        operation_id="subscriptions_create",
        summary="Register a webhook endpoint; the signing secret is in this response only",
        request=s.SubscriptionCreateSerializer,
        responses={201: s.SubscriptionCreatedSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = self.validated(s.SubscriptionCreateSerializer, request.data)
        subscription = subscription_create(
            url=data["url"],
            event_types=data["event_types"],
            created_by=request.auth,
            threshold_amount_cents=data.get("threshold_amount_cents"),
            threshold_currency=(data.get("threshold_currency") or "").upper(),
        )
        body = {**_subscription_body(subscription), "secret": subscription.secret}
        return Response(s.SubscriptionCreatedSerializer(body).data, status=status.HTTP_201_CREATED)


class SubscriptionDetailView(ApiView):
    permission_classes = [SubscribeScope]
    NOT_FOUND = {404: OpenApiResponse(s.ErrorSerializer, description="No such subscription for this key.")}

    @extend_schema(
        operation_id="subscriptions_retrieve",
        summary="One subscription",
        responses={200: s.SubscriptionSerializer, **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, subscription_id: str) -> Response:
        subscription = subscription_get(subscription_id=subscription_id, owner=request.auth)
        return Response(s.SubscriptionSerializer(_subscription_body(subscription)).data)

    @extend_schema(
        operation_id="subscriptions_delete",
        summary="Stop deliveries to a subscription",
        responses={204: None, **ERRORS, **NOT_FOUND},
    )
    def delete(self, request: Request, subscription_id: str) -> Response:
        subscription_delete(subscription=subscription_get(subscription_id=subscription_id, owner=request.auth))
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------- documentation pages

# /docs and /redoc run only what we serve (drf-spectacular-sidecar through whitenoise): the page
# where people paste an API key talks to no third party. Inline styles are the UIs' own; ReDoc's
# search runs in a blob: worker; its footer logo from cdn.redoc.ly is refused (it hides itself).
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


class DocsPolicy:
    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return response


class SwaggerDocsView(DocsPolicy, SpectacularSwaggerSplitView):
    """Swagger UI with its settings script served from this URL (?script), not inline: CSP allows no inline script."""


class RedocDocsView(DocsPolicy, SpectacularRedocView):
    """ReDoc, from our static files."""
