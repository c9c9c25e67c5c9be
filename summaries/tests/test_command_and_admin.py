import re
from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from revenue.models import OutboxMessage
from summaries.models import RevenueSummary
from summaries.services import summary_compute

from .conftest import local

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = StringIO()
    call_command("compute_summaries", *args, stdout=out)
    return out.getvalue()


def test_compute_summaries_command(record, django_capture_on_commit_callbacks):
    record(125000, local(2026, 6, 10, 9))
    record(5000, local(2026, 6, 11, 9), currency="EUR")
    output = _run("--period", "daily", "--date", "2026-06-10", "--until", "2026-06-11")
    assert "daily 2026-06-10: 1 events, net 1,250.00 USD (= 1,250.00 USD at stated rates)" in output
    assert "daily 2026-06-11: 1 events, net 50.00 EUR" in output
    assert not OutboxMessage.objects.filter(topic__startswith="summary.").exists()

    with django_capture_on_commit_callbacks(execute=False):
        sent = _run("--period", "weekly", "--date", "2026-06-10", "--send")
        again = _run("--period", "weekly", "--date", "2026-06-12", "--send")
    assert "weekly 2026-06-08 to 2026-06-14: 2 events" in sent and "sent: outbox message" in sent
    assert "already sent at" in again
    assert OutboxMessage.objects.filter(topic="summary.weekly").count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "daily", "--date", "10/06/2026"], "is not a date"),
        (["--period", "daily", "--date", "2026-06-10", "--until", "2026-06-01"], "must not be before"),
    ],
)
def test_compute_summaries_command_refuses_bad_input(args, message):
    with pytest.raises(CommandError, match=message):
        _run(*args)


def test_summary_admin_lists_and_acts(
    staff_client, record, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    record(125000, local(2026, 6, 10, 9))
    for day in range(1, 11):
        summary_compute(cadence="daily", day=date(2026, 6, day))
    url = reverse("admin:summaries_revenuesummary_changelist")
    with django_assert_max_num_queries(12):
        response = staff_client.get(url)
    assert response.status_code == 200
    assert "1,250.00 USD" in response.content.decode()
    digest = RevenueSummary.objects.get(period="daily", start_date=date(2026, 6, 10), entity__isnull=True)
    detail = staff_client.get(reverse("admin:summaries_revenuesummary_change", args=[digest.pk]))
    assert detail.status_code == 200 and "net 1,250.00 USD" in detail.content.decode()

    with django_capture_on_commit_callbacks(execute=False):
        response = staff_client.post(url, {"action": "send", "_selected_action": [str(digest.pk)]}, follow=True)
    assert "Sent 1 period(s); 0 had already been sent." in response.content.decode()
    assert OutboxMessage.objects.filter(topic="summary.daily").count() == 1
    response = staff_client.post(url, {"action": "recompute", "_selected_action": [str(digest.pk)]}, follow=True)
    assert "Recomputed 1 period(s)." in response.content.decode()


def test_summary_page_shows_money_per_currency_linked_to_its_rows_and_folds_the_raw_figures(
    admin_client, record, entities
):
    record(125000, local(2026, 6, 10, 9))
    record(-2500, local(2026, 6, 10, 11), kind="refund")
    record(4500, local(2026, 6, 10, 23, 30), currency="JPY", entity="legacy-unchained")
    summary_compute(cadence="daily", day=date(2026, 6, 10))
    digest = RevenueSummary.objects.get(period="daily", start_date=date(2026, 6, 10), entity__isnull=True)
    html = admin_client.get(reverse("admin:summaries_revenuesummary_change", args=[digest.pk])).content.decode()
    money = html[html.index('class="bb-summary-money"') : html.index("</table>", html.index("bb-summary-money"))]
    for text in ("1,225.00 USD", "1,250.00 USD", "-25.00 USD", "4,500 JPY", ">2 rows<", ">1 row<"):
        assert text in money
    # Raw cents and JSON only inside the folded <details> of the "Stored figures" fieldset.
    folded = html.rfind("<details", 0, html.index("Stored figures (raw)"))
    assert html.index("bb-summary-money") < folded < html.index("Total amount cents")
    assert "</details>" not in html[folded : html.index("Total amount cents")]
    links = set(re.findall(r'href="(/admin/revenue/revenueevent/\?[^"]+)"', money))
    counts = {}
    for link in links:
        changelist = admin_client.get(link.replace("&amp;", "&")).context["cl"]
        counts[changelist.result_count] = {row.currency for row in changelist.queryset}
    assert counts == {2: {"USD"}, 1: {"JPY"}}  # the 23:30 Central JPY sale is on the 10th, not the 11th (UTC)
    entity_row = RevenueSummary.objects.get(
        period="daily", start_date=date(2026, 6, 10), entity=entities["legacy-unchained"]
    )
    page = admin_client.get(reverse("admin:summaries_revenuesummary_change", args=[entity_row.pk])).content.decode()
    assert f"entity__id__exact={entities['legacy-unchained'].pk}" in page and "4,500 JPY" in page
