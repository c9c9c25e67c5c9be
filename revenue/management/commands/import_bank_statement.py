"""Import a bank statement file as bank deposits, then refresh expectations and auto-match."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from revenue.errors import ApplicationError
from revenue.models import Entity
from revenue.reconciliation.bank_formats import STATEMENT_FORMATS, StatementError, parse_mapping
from revenue.reconciliation.services import bank_statement_import


class Command(BaseCommand):
    help = "Import a bank statement (CSV presets or OFX). Re-importing the same statement adds nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", dest="layout", choices=[*STATEMENT_FORMATS, "wellsfargo"], default="generic")
        parser.add_argument("--entity", default="", help="Entity slug (default: the default entity).")
        parser.add_argument("--currency", default="USD", help="Currency of a CSV statement (OFX names its own).")
        parser.add_argument(
            "--mapping",
            default="",
            help="Generic CSV column mapping, e.g. date=Posted,amount=Credit,description=Memo[,reference=Ref]",
        )

    def handle(self, *args, file: Path, layout: str, entity: str, currency: str, mapping: str, **options):
        layout = "wells_fargo" if layout == "wellsfargo" else layout
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        target = (
            Entity.objects.filter(slug=entity).first() if entity else Entity.objects.filter(is_default=True).first()
        )
        if target is None:
            raise CommandError(
                f"No entity '{entity}'; known: {', '.join(Entity.objects.values_list('slug', flat=True))}"
            )
        try:
            parsed_mapping = parse_mapping(mapping) or None
            if parsed_mapping and layout != "generic":
                raise CommandError("--mapping applies to --format generic only")
            summary = bank_statement_import(
                content=file.read_bytes(),
                layout=layout,
                entity=target,
                mapping=parsed_mapping,
                currency=currency,
                statement_name=file.name,
            )
        except (ApplicationError, StatementError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{file.name} -> {target.name}: {summary.new} new deposit(s), {summary.duplicates} already imported, "
            f"{summary.debits} debit line(s) skipped, {summary.auto_matched} matched automatically"
        )
