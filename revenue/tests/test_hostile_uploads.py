"""Issue 15, item 4: uploads have a size limit refused before reading, and large imports run in the background.

The background jobs run through the real admin views; one test of each kind runs them with
eager tasks, and the cancel test with a real Celery worker process against the test Redis.
"""

from __future__ import annotations

import csv
import io
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse

from revenue.backfill import GENERIC_COLUMNS
from revenue.models import BankDeposit, ImportJob, ImportJobChunk, LedgerAuditEntry, RevenueEvent
from revenue.reconciliation.bank_formats import STATEMENT_FORMATS

pytestmark = [pytest.mark.hostile]

LEDGER_IMPORT = "admin:revenue_revenueevent_import"
BANK_IMPORT = "admin:revenue_bankdeposit_import"
TIMEOUT_SECONDS = 180


# --- files -----------------------------------------------------------------------------------------------


def ledger_csv(rows: int, *, tag: str, bad_every: int = 0, pad: int = 0) -> tuple[bytes, int, list[int]]:
    """A generic ledger CSV: (bytes, valid rows, row numbers of the bad ones). Row n is CSV row n (after the header)."""
    start = datetime.now(tz=UTC) - timedelta(days=200)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(GENERIC_COLUMNS)
    bad = []
    for n in range(1, rows + 1):
        amount = f"{(n % 900) + 1}.{n % 100:02d}"
        currency = "USD"
        if bad_every and n % bad_every == 0:
            amount, currency = "12.345", "USD"  # three decimals for a two-decimal currency
            bad.append(n)
        writer.writerow(
            [
                f"{tag}-{n}",
                "manual",
                "payment",
                amount,
                currency,
                (start + timedelta(minutes=n)).isoformat(timespec="seconds"),
                "aplus-enterprise" if n % 2 else "legacy-unchained",
                f"buyer{n % 5000}@example.com",
                "",
                "",
                "",
                ("Backfill " + "x" * pad) if pad else "Backfill",
                "",
            ]
        )
    return out.getvalue().encode(), rows - len(bad), bad


def bank_csv(lines: int) -> tuple[bytes, int, int]:
    """Generic Date,Description,Amount: (bytes, credit lines, debit lines). Every 7th line repeats the line
    before it exactly (two real, identical deposits); every 10th is a debit."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Date", "Description", "Amount"])
    credits = debits = 0
    previous = None
    for n in range(1, lines + 1):
        if n % 7 == 0 and previous is not None:
            row = previous
        else:
            day = datetime(2026, 1, 1) + timedelta(days=n % 300)
            amount = -((n % 50) + 1) if n % 10 == 0 else (n % 4000) + 1
            row = [day.strftime("%m/%d/%Y"), f"STRIPE TRANSFER ST-{n}", f"{amount}.00"]
        writer.writerow(row)
        previous = row
        if row[2].startswith("-"):
            debits += 1
        else:
            credits += 1
    return out.getvalue().encode(), credits, debits


def _post_ledger(client: Client, content: bytes, name: str, *, entity: str = ""):
    upload = SimpleUploadedFile(name, content, content_type="text/csv")
    return client.post(
        reverse(LEDGER_IMPORT), {"resource": "0", "format": "0", "import_file": upload, "entity": entity}
    )


def _post_bank(client: Client, content: bytes, name: str, entity_pk: int):
    upload = SimpleUploadedFile(name, content, content_type="text/csv")
    generic = str(list(STATEMENT_FORMATS).index("generic"))
    return client.post(
        reverse(BANK_IMPORT),
        {"import_file": upload, "format": generic, "entity": entity_pk, "currency": "USD", "mapping": ""},
    )


def _job_from(response) -> ImportJob:
    assert response.status_code == 302, response.content.decode()[:2000]
    job_id = int(response["Location"].rstrip("/").split("/")[-2])
    assert response["Location"] == reverse("admin:revenue_importjob_change", args=[job_id])
    return ImportJob.objects.get(pk=job_id)


# --- the size limit --------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", [LEDGER_IMPORT, BANK_IMPORT])
def test_a_55_mb_upload_is_refused_in_under_a_second_with_the_limit_named(staff_client, url):
    body = b"event_id,amount,currency,occurred_at\n" + b"x" * (55 * 1024 * 1024)
    upload = SimpleUploadedFile("huge.csv", body, content_type="text/csv")
    # Encoded before the clock starts: the time measured is the server's answer, not the client's encoding.
    encoded = encode_multipart(BOUNDARY, {"resource": "0", "format": "0", "import_file": upload})
    events_before = RevenueEvent.objects.count()
    assert staff_client.get(reverse(url)).status_code == 200  # warm (URL and template loading are not the point)
    started = time.monotonic()
    response = staff_client.generic("POST", reverse(url), encoded, content_type=MULTIPART_CONTENT)
    elapsed = time.monotonic() - started
    assert not response.wsgi_request.environ["wsgi.input"].read_started  # not one byte of the body was read
    assert elapsed < 1.0, f"took {elapsed:.2f} s"
    assert response.status_code == 303 and response["Location"] == reverse(url)
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert "55.0 MB" in message and "files up to 20.0 MB can be imported here" in message
    page = staff_client.get(response["Location"])
    assert "files up to 20.0 MB can be imported here" in page.content.decode()
    assert RevenueEvent.objects.count() == events_before
    assert not ImportJob.objects.exists() and not ImportJobChunk.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_real_server_answers_a_55_mb_upload_before_the_body_is_sent(live_server):
    """Over a socket: the headers announce 55 MB, only 64 KB follow, and the answer comes at once."""
    host, port = live_server.url.removeprefix("http://").split(":")
    boundary = "----bb-upload-limit"
    head = (
        f"POST {reverse(LEDGER_IMPORT)} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {55 * 1024 * 1024}\r\n\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="import_file"; filename="huge.csv"\r\n\r\n'
    ).encode()
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head + b"x" * 65536)
        sock.settimeout(5)
        answer = ""
        while "files up to" not in answer:  # headers and body may arrive in separate segments
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk.decode("latin-1")
    elapsed = time.monotonic() - started
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "files up to 20.0 MB can be imported here" in answer
    assert elapsed < 1.0, f"took {elapsed:.2f} s"


@pytest.mark.django_db
def test_oversized_or_unsized_uploads_from_outside_the_back_office_get_413_and_411(client):
    big = SimpleUploadedFile("huge.csv", b"x" * (21 * 1024 * 1024), content_type="text/csv")
    response = client.post(reverse(LEDGER_IMPORT), {"import_file": big})
    assert response.status_code == 413
    assert "files up to 20.0 MB" in response.content.decode()
    response = client.post(
        reverse(LEDGER_IMPORT),
        {"import_file": SimpleUploadedFile("a.csv", b"a")},
        CONTENT_LENGTH="",
    )
    assert response.status_code == 411
    assert "Content-Length" in response.content.decode()


@pytest.mark.django_db
def test_the_form_refuses_a_file_over_the_limit_that_fits_in_the_form_slack(staff_client, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 1000
    content, _, _ = ledger_csv(30, tag="slack")
    assert len(content) > 1000
    response = _post_ledger(staff_client, content, "slack.csv")
    assert response.status_code == 200
    assert "files up to 1000" in response.content.decode()
    assert not ImportJob.objects.exists() and not RevenueEvent.objects.filter(event_id__startswith="manual:slack-")


@pytest.mark.django_db
def test_the_import_forms_carry_the_limit_for_the_browser_check(staff_client):
    for url in (LEDGER_IMPORT, BANK_IMPORT):
        html = staff_client.get(reverse(url)).content.decode()
        assert f'data-max-bytes="{20 * 1024 * 1024}"' in html
        assert "revenue/upload_limit" in html
        assert "<script>" not in html.replace(" ", "")  # no inline script


# --- background imports, eager tasks ----------------------------------------------------------------------


@pytest.mark.slow  # multi-MB files
@pytest.mark.django_db
def test_a_multi_mb_ledger_csv_is_imported_in_the_background_with_row_errors(
    staff_client, staff_user, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_JOB_BATCH_ROWS = 2000
    content, valid, bad = ledger_csv(16_000, tag="bg-ledger", bad_every=997, pad=80)
    assert len(content) > 2 * 1024 * 1024
    with django_capture_on_commit_callbacks(execute=True):
        response = _post_ledger(staff_client, content, "big-ledger.csv")
    job = _job_from(response)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE, job.message
    assert (job.total_rows, job.rows_done, job.booked, job.error_count) == (16_000, 16_000, valid, len(bad))
    assert [e["row"] for e in job.errors] == bad
    assert {e["column"] for e in job.errors} == {"amount"}
    assert "decimal places" in job.errors[0]["message"]
    imported = RevenueEvent.objects.filter(event_id__startswith="manual:bg-ledger-")
    assert imported.count() == valid
    assert not imported.filter(event_id__in=[f"manual:bg-ledger-{n}" for n in bad]).exists()
    assert imported.get(event_id="manual:bg-ledger-3").amount_cents == 403
    assert not ImportJobChunk.objects.filter(job=job).exists()  # the stored file is dropped once done
    audit = LedgerAuditEntry.objects.get(metadata__import_job=job.pk)
    assert audit.actor == staff_user and audit.metadata["inserted"] == valid

    progress = staff_client.get(reverse("admin:revenue_importjob_progress", args=[job.pk])).json()
    assert progress["finished"] is True and progress["percent"] == 100
    assert progress["booked"] == valid and progress["error_count"] == len(bad)
    assert progress["errors"][0] == {"row": bad[0], "column": "amount", "message": job.errors[0]["message"]}
    page = staff_client.get(reverse("admin:revenue_importjob_change", args=[job.pk])).content.decode()
    assert 'id="import-progress"' in page and "Import finished" in page and str(bad[0]) in page
    assert "revenue/import_progress" in page

    # the same file again: everything is skipped, nothing is added
    with django_capture_on_commit_callbacks(execute=True):
        again = _job_from(_post_ledger(staff_client, content, "big-ledger.csv"))
    again.refresh_from_db()
    assert (again.status, again.booked, again.skipped) == (ImportJob.Status.DONE, 0, valid)
    assert imported.count() == valid


@pytest.mark.django_db
def test_a_small_file_keeps_the_in_request_preview(staff_client):
    content, _, _ = ledger_csv(5, tag="small")
    response = _post_ledger(staff_client, content, "small.csv")
    assert response.status_code == 200 and response.context["confirm_form"] is not None
    assert not ImportJob.objects.exists()


@pytest.mark.slow  # multi-MB files
@pytest.mark.django_db
def test_a_bank_statement_is_imported_in_the_background_across_batches(
    staff_client, entities, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_JOB_BATCH_ROWS = 1000
    settings.IMPORT_BACKGROUND_THRESHOLD_BYTES = 64 * 1024
    entity = entities["aplus-enterprise"]
    content, credits, debits = bank_csv(12_000)
    assert len(content) > 64 * 1024
    with django_capture_on_commit_callbacks(execute=True):
        job = _job_from(_post_bank(staff_client, content, "statement.csv", entity.pk))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE, job.message
    assert (job.total_rows, job.booked, job.skipped) == (12_000, credits, debits)
    assert BankDeposit.objects.filter(entity=entity).count() == credits
    # line 7000 repeats line 6999 and the batch boundary falls between 6000 and 7001: still two deposits
    twins = BankDeposit.objects.filter(entity=entity, description="STRIPE TRANSFER ST-6999")
    assert sorted(twins.values_list("statement_line", flat=True)) == [7000, 7001]
    assert job.message.startswith(f"Import finished: {credits} new deposit(s), 0 already imported, {debits} debit")

    with django_capture_on_commit_callbacks(execute=True):
        again = _job_from(_post_bank(staff_client, content, "statement.csv", entity.pk))
    again.refresh_from_db()
    assert (again.status, again.booked, again.skipped) == (ImportJob.Status.DONE, 0, credits + debits)
    assert BankDeposit.objects.filter(entity=entity).count() == credits


@pytest.mark.django_db
def test_a_bank_statement_with_a_bad_line_imports_nothing_and_names_the_line(
    staff_client, entities, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_BACKGROUND_THRESHOLD_BYTES = 1024
    content, _, _ = bank_csv(3000)
    lines = content.decode().splitlines()
    lines[2500] = "13/45/2026,BROKEN,12.00"
    with django_capture_on_commit_callbacks(execute=True):
        job = _job_from(_post_bank(staff_client, "\n".join(lines).encode(), "bad.csv", entities["aplus-enterprise"].pk))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert "1 line(s) have errors" in job.message and "nothing was imported" in job.message
    assert job.errors == [
        {
            "row": 2501,
            "column": "",
            "message": "line 2501, column 'Date': '13/45/2026' is not a date (expected YYYY-MM-DD or MM/DD/YYYY)",
        }
    ]
    assert not BankDeposit.objects.exists()


@pytest.mark.django_db
def test_an_undecodable_ledger_file_fails_with_a_sentence(staff_client, settings, django_capture_on_commit_callbacks):
    settings.IMPORT_BACKGROUND_THRESHOLD_BYTES = 1024
    content, _, _ = ledger_csv(100, tag="utf16")
    with django_capture_on_commit_callbacks(execute=True):
        job = _job_from(_post_ledger(staff_client, content.decode().encode("utf-16"), "utf16.csv"))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert "not UTF-8 text" in job.message and "CSV UTF-8" in job.message
    assert not RevenueEvent.objects.filter(event_id__startswith="manual:utf16-").exists()


@pytest.mark.django_db
def test_cancelling_a_job_that_has_not_started_cancels_it_at_once(staff_client, settings):
    settings.IMPORT_BACKGROUND_THRESHOLD_BYTES = 1024
    content, _, _ = ledger_csv(100, tag="queued")
    job = _job_from(_post_ledger(staff_client, content, "queued.csv"))  # on_commit never runs: still queued
    assert job.status == ImportJob.Status.QUEUED
    response = staff_client.post(reverse("admin:revenue_importjob_cancel", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CANCELLED and "nothing was imported" in job.message
    assert staff_client.get(reverse("admin:revenue_importjob_cancel", args=[job.pk])).status_code == 405


@pytest.mark.django_db
def test_the_progress_page_and_json_need_staff(staff_client, settings):
    settings.IMPORT_BACKGROUND_THRESHOLD_BYTES = 1024
    content, _, _ = ledger_csv(100, tag="perm")
    job = _job_from(_post_ledger(staff_client, content, "perm.csv"))
    for name in ("admin:revenue_importjob_progress", "admin:revenue_importjob_change"):
        response = Client().get(reverse(name, args=[job.pk]))
        assert response.status_code == 302 and "/login/" in response["Location"]
    assert staff_client.get(reverse("admin:revenue_importjob_changelist")).status_code == 200


# --- a real worker --------------------------------------------------------------------------------------

WORKER_BATCH_ROWS = 500


@pytest.fixture
def real_worker(real_celery_worker):
    """A real Celery worker with small import batches, so a cancel lands mid-file."""
    return real_celery_worker(IMPORT_JOB_BATCH_ROWS=str(WORKER_BATCH_ROWS))


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_imports_cancel_stops_it_and_the_ledger_is_exact(real_worker, staff_client):
    content, valid, _ = ledger_csv(30_000, tag="worker", pad=40)
    assert len(content) > 3 * 1024 * 1024
    job = _job_from(_post_ledger(staff_client, content, "worker.csv"))
    progress_url = reverse("admin:revenue_importjob_progress", args=[job.pk])

    def progress() -> dict:
        return staff_client.get(progress_url).json()

    first = real_worker.wait_for(lambda: (p := progress())["rows_done"] > 0 and p, "the first batch")
    assert first["status"] == "running" and first["total_rows"] == 30_000 and 0 < first["percent"] < 100
    assert staff_client.post(reverse("admin:revenue_importjob_cancel", args=[job.pk])).status_code == 302
    done = real_worker.wait_for(lambda: (p := progress())["finished"] and p, "the cancel")
    assert done["status"] == "cancelled", done
    assert 0 < done["booked"] < valid and done["rows_done"] % WORKER_BATCH_ROWS == 0
    imported = RevenueEvent.objects.filter(event_id__startswith="manual:worker-")
    assert imported.count() == done["booked"]  # exactly the batches that committed before the cancel
    assert f"{done['booked']} added and kept" in done["message"]

    # the same file again, to the end: only the rest is added
    again = _job_from(_post_ledger(staff_client, content, "worker.csv"))
    final = real_worker.wait_for(
        lambda: (p := staff_client.get(reverse("admin:revenue_importjob_progress", args=[again.pk])).json())["finished"]
        and p,
        "the second import",
    )
    assert final["status"] == "done", final
    assert final["booked"] == valid - done["booked"] and final["skipped"] == done["booked"]
    assert imported.count() == valid


# --- the browser: a 19 MB upload, its progress bar mid-way and the finished page ----------------------------


@pytest.fixture
def uploader_session(django_user_model, settings) -> str:
    """A logged-in session, made before the browser starts (its event loop forbids the ORM in the test)."""
    # The live server serves /static/ from the finders (plain names), not the manifest's hashed ones.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    user = django_user_model.objects.create_superuser("uploader", "uploader@example.com", "uploader-password-1")
    login = Client()
    login.force_login(user)
    return login.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_19_mb_ledger_csv_through_chromium_shows_a_progress_bar(
    real_worker, uploader_session, live_server, browser, artifacts_dir, settings, tmp_path
):
    session = uploader_session
    content, valid, _ = ledger_csv(105_000, tag="chromium", pad=70)
    assert 18 * 1024 * 1024 < len(content) < 20 * 1024 * 1024, len(content)
    path = tmp_path / "ledger-19mb.csv"
    path.write_bytes(content)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
    page = context.new_page()
    shots = [artifacts_dir / "import_background_progress.png", artifacts_dir / "import_background_finished.png"]
    try:
        page.goto(f"{live_server.url}/admin/revenue/revenueevent/import/")
        page.set_input_files("#id_import_file", str(path))
        page.click("input[type=submit]")
        page.wait_for_selector("#import-progress", timeout=60_000)

        def mid_way() -> bool:
            text = page.locator("#import-percent").inner_text().rstrip("%")
            return text.isdigit() and 20 <= int(text) <= 80

        real_worker.wait_for(mid_way, "the progress bar to reach 20%")
        page.screenshot(path=shots[0], full_page=True)
        page.wait_for_selector("text=Import finished", timeout=600_000)  # a loaded CI machine is slow
        page.screenshot(path=shots[1], full_page=True)
        assert page.locator("#import-percent").inner_text() == "100%"
        assert page.locator("#import-booked").inner_text() == str(valid)
    finally:
        context.close()
    for shot in shots:
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")
