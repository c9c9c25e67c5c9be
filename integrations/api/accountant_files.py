"""The accountant files over the API (issue 17, item 4): ledger detail, monthly summary and the
QuickBooks Online / Xero journal files for one entity and business-date period. Thin views: validate,
one accounting service, send the file; refusals are 400 JSON with what to fix."""

from __future__ import annotations

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request

from accounting.http import file_response
from accounting.models import AccountMapping
from accounting.selectors import ExportScope, export_period
from accounting.services import XLSX_TYPE, FileKind, accountant_file_build

from . import serializers as s
from .views import ERRORS, ApiView

PERIOD_HELP = "Give `month`, or `start` and `end` (business dates in the business time zone, inclusive)."


class PeriodQuerySerializer(serializers.Serializer):
    entity = s.EntityFilterField(required=False, max_length=64, help_text="Entity slug; empty: every entity.")
    month = serializers.CharField(required=False, max_length=7, help_text="A business month, YYYY-MM.")
    start = serializers.DateField(required=False, help_text="First business day (with `end`, instead of `month`).")
    end = serializers.DateField(required=False, help_text="Last business day, inclusive.")

    def validate_start(self, value):
        return s._check_date_range(value)

    def validate_end(self, value):
        return s._check_date_range(value)


class SheetQuerySerializer(PeriodQuerySerializer):
    format = serializers.ChoiceField(choices=["csv", "xlsx"], default="csv")


class JournalQuerySerializer(PeriodQuerySerializer):
    entity = s.EntityFilterField(max_length=64, help_text="Entity slug: journals are per entity's books.")
    target = serializers.ChoiceField(
        choices=["qbo", "xero"], help_text="qbo: QuickBooks Online journal entries; xero: Xero manual journals."
    )


class UnmappedAccountSerializer(serializers.Serializer):
    entity = serializers.CharField()
    currency = serializers.CharField()
    role = serializers.ChoiceField(choices=AccountMapping.Role.choices)
    role_label = serializers.CharField()


class MissingRateSerializer(serializers.Serializer):
    currency = serializers.CharField()
    rows = serializers.IntegerField()


class JournalRefusalSerializer(s.ErrorSerializer):
    unmapped = UnmappedAccountSerializer(many=True, required=False, help_text="code unmapped_accounts: map these.")
    missing_rates = MissingRateSerializer(
        many=True, required=False, help_text="code missing_rates (Xero, in USD): rows without a USD rate."
    )


FILE_RESPONSES = {(200, "text/csv"): OpenApiTypes.STR, (200, XLSX_TYPE): OpenApiTypes.BINARY, **ERRORS}


class _AccountantFileView(ApiView):
    def scope(self, query: dict) -> ExportScope:
        entity = self.entity(query.get("entity"))
        first, last = export_period(month=query.get("month"), date_from=query.get("start"), date_to=query.get("end"))
        return ExportScope(entity, first, last)


class LedgerFileView(_AccountantFileView):
    @extend_schema(
        operation_id="accounting_ledger",
        summary="Ledger detail for an entity and period, as CSV or XLSX",
        description=(
            "One line per ledger row with effective date (where it counts), the date it happened, posting time, kind, bucket, counterparty, "
            "gross / fee / net, currency, USD equivalent with rate and source, and reversal links. Per currency the "
            "Net column sums to the net bucket and Fee to the fees bucket. " + PERIOD_HELP
        ),
        parameters=[SheetQuerySerializer],
        responses=FILE_RESPONSES,
    )
    def get(self, request: Request) -> HttpResponse | StreamingHttpResponse:
        query = self.validated(SheetQuerySerializer, request.query_params)
        kind = FileKind.LEDGER_XLSX if query["format"] == "xlsx" else FileKind.LEDGER_CSV
        return file_response(accountant_file_build(scope=self.scope(query), kind=kind))


class SummaryFileView(_AccountantFileView):
    @extend_schema(
        operation_id="accounting_summary",
        summary="Monthly summary by entity, kind and currency with the bucket totals, as CSV or XLSX",
        description=PERIOD_HELP,
        parameters=[SheetQuerySerializer],
        responses=FILE_RESPONSES,
    )
    def get(self, request: Request) -> HttpResponse | StreamingHttpResponse:
        query = self.validated(SheetQuerySerializer, request.query_params)
        kind = FileKind.SUMMARY_XLSX if query["format"] == "xlsx" else FileKind.SUMMARY_CSV
        return file_response(accountant_file_build(scope=self.scope(query), kind=kind))


class JournalFileView(_AccountantFileView):
    @extend_schema(
        operation_id="accounting_journals",
        summary="QuickBooks Online journal-entry or Xero manual-journal import file (CSV)",
        description=(
            "One balanced journal per effective business date and currency, through the account mappings. "
            "An unmapped account (or, for Xero, a row without a USD rate) refuses the whole file with 400 and "
            "the list of what to fix; no partial file is ever sent. " + PERIOD_HELP
        ),
        parameters=[JournalQuerySerializer],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            **ERRORS,
            400: OpenApiResponse(JournalRefusalSerializer, description="Invalid input, or the file is refused."),
        },
    )
    def get(self, request: Request) -> HttpResponse | StreamingHttpResponse:
        query = self.validated(JournalQuerySerializer, request.query_params)
        kind = FileKind.QBO_CSV if query["target"] == "qbo" else FileKind.XERO_CSV
        return file_response(accountant_file_build(scope=self.scope(query), kind=kind))
