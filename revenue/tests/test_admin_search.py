"""The ledger admin finds a row by any id a person holds, and its change page has Reverse and Correct."""

from __future__ import annotations

import pytest
from django.urls import reverse

from revenue.models import RevenueEvent
from revenue.services import revenue_event_record, revenue_event_reverse_by_user
from revenue.tests.factories import ledger_entry

CHANGELIST = "admin:revenue_revenueevent_changelist"
pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(entities):
    entries = {
        "sale": ledger_entry(
            event_id="stripe:pi_3Qsale",
            source_id="pi_3Qsale",
            metadata={"payment_intent": "pi_3Qsale", "charge": "ch_3Qsale"},
            description="Checkout cs_test_a1B2c3",
            customer_email="ada@example.com",
        ),
        "refund": ledger_entry(
            event_id="stripe:re_3Qrefund",
            kind="refund",
            amount_cents=-500,
            source_id="re_3Qrefund",
            parent_event_id="stripe:pi_3Qsale",
            metadata={"payment_intent": "pi_3Qsale", "charge": "ch_3Qsale"},
        ),
        "dispute": ledger_entry(
            event_id="stripe:dp_1Qdispute",
            kind="dispute",
            amount_cents=-1000,
            source_id="dp_1Qdispute",
            metadata={"dispute": "dp_1Qdispute", "charge": "ch_1Qother"},
        ),
        "invoice": ledger_entry(
            event_id="stripe:ch_55inv", source_id="ch_55inv", metadata={"charge_id": "ch_55inv", "invoice": "in_55inv"}
        ),
        "gumroad": ledger_entry(
            event_id="gumroad:sale:xT3vQ8pL2mN==",
            provider="gumroad",
            event_type="sale",
            source_id="xT3vQ8pL2mN==",
            metadata={"sale_id": "xT3vQ8pL2mN=="},
        ),
        "po": ledger_entry(
            event_id="manual:po-2026-119", provider="manual", event_type="manual", reference="PO-2026-119"
        ),
        "other": ledger_entry(event_id="stripe:pi_unrelated", customer_email="bob@example.com"),
    }
    return {
        name: revenue_event_record(entry=entry, entity=entities["aplus-enterprise"]).event
        for name, entry in entries.items()
    }


def _found(client, term: str) -> set[str]:
    response = client.get(reverse(CHANGELIST), {"q": term})
    assert response.status_code == 200
    return {row.event_id for row in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("pi_3Qsale", {"stripe:pi_3Qsale", "stripe:re_3Qrefund"}),  # the sale and its refund
        ("stripe:pi_3Qsale", {"stripe:pi_3Qsale", "stripe:re_3Qrefund"}),
        ("ch_3Qsale", {"stripe:pi_3Qsale", "stripe:re_3Qrefund"}),
        (" cs_test_a1B2c3 ", {"stripe:pi_3Qsale"}),
        ("in_55inv", {"stripe:ch_55inv"}),
        ("re_3Qrefund", {"stripe:re_3Qrefund"}),
        ("dp_1Qdispute", {"stripe:dp_1Qdispute"}),
        ("xT3vQ8pL2mN==", {"gumroad:sale:xT3vQ8pL2mN=="}),
        ("po-2026-119", {"manual:po-2026-119"}),
        ("ADA@example.com", {"stripe:pi_3Qsale"}),
        ("ada@exa", {"stripe:pi_3Qsale"}),  # Django's own search: a fragment of an email
        ("pi_nothing_like_it", set()),
    ],
)
def test_search_by_any_id_a_person_holds(staff_client, rows, term, expected):
    assert _found(staff_client, term) == expected


def test_a_reversal_is_found_by_its_originals_id(staff_client, rows, staff_user):
    reversal = revenue_event_reverse_by_user(event=rows["gumroad"], reason="Test sale", actor=staff_user)
    assert _found(staff_client, "xT3vQ8pL2mN==") == {"gumroad:sale:xT3vQ8pL2mN==", reversal.event_id}


def test_change_page_reverse_button_leads_to_the_audited_reversal(staff_client, rows):
    sale = rows["sale"]
    page = staff_client.get(reverse("admin:revenue_revenueevent_change", args=[sale.pk])).content.decode()
    assert 'value="reverse_selected">Reverse this entry…</button>' in page
    assert f'formaction="{reverse(CHANGELIST)}"' in page
    # What the button submits: the list's "Reverse selected" action for this one row, then its confirmation.
    form = {"action": "reverse_selected", "_selected_action": str(sale.pk), "index": "0"}
    confirmation = staff_client.post(reverse(CHANGELIST), form)
    assert confirmation.status_code == 200 and "stripe:pi_3Qsale" in confirmation.content.decode()
    done = staff_client.post(reverse(CHANGELIST), {**form, "post": "yes", "reason": "Charged twice"})
    assert done.status_code == 302
    reversal = RevenueEvent.objects.get(reverses=sale)
    assert reversal.amount_cents == -sale.amount_cents
    page = staff_client.get(reverse("admin:revenue_revenueevent_change", args=[sale.pk])).content.decode()
    assert "Reverse this entry" not in page and "has been reversed" in page


def test_change_page_offers_correct_on_a_manual_payment(staff_client, rows):
    page = staff_client.get(reverse("admin:revenue_revenueevent_change", args=[rows["po"].pk])).content.decode()
    assert f'href="{reverse("admin:revenue_revenueevent_correct", args=[rows["po"].pk])}"' in page
    assert "Reverse this entry" in page


def test_a_stripe_payout_id_finds_the_rows_it_settles(staff_client, rows, entities):
    from revenue.models import Payout

    Payout.objects.create(
        provider="stripe",
        payout_id="po_1QpaysJune",
        entity=entities["aplus-enterprise"],
        amount_cents=14500,
        currency="USD",
        status="paid",
        metadata={"balance_transactions": ["stripe:pi_3Qsale", "stripe:re_3Qrefund"]},
    )
    assert _found(staff_client, "po_1QpaysJune") == {"stripe:pi_3Qsale", "stripe:re_3Qrefund"}
    assert _found(staff_client, "po_unknown") == set()
