"""Background imports: large admin uploads stored in the database and imported by a worker."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .configuration import Entity


class ImportJob(models.Model):
    """A large admin upload (ledger CSV or bank statement) imported by a worker, batch by batch.

    The file lives in the database (`ImportJobChunk`), not on the web server's disk: on
    Railway the web and worker services share PostgreSQL, never a filesystem. Counters are
    updated after every batch; `cancel_requested` is honoured between batches.
    """

    class Kind(models.TextChoices):
        LEDGER = "ledger", "Ledger CSV"
        BANK = "bank", "Bank statement"

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Running"
        DONE = "done", "Finished"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.DONE, Status.FAILED, Status.CANCELLED)

    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(max_length=120, blank=True, default="")
    file_name = models.CharField(max_length=255)
    file_size_bytes = models.BigIntegerField(default=0)
    # ledger: {"format": "generic"|"stripe"|"gumroad"|"stripe_itemized", "entity_id": int|None};
    # bank: {"layout": ..., "entity_id": int, "currency": "USD", "mapping": {...}|None}
    options = models.JSONField(default=dict, blank=True)
    entity = models.ForeignKey(Entity, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    booked = models.PositiveIntegerField(default=0, help_text="Ledger entries or bank deposits added.")
    skipped = models.PositiveIntegerField(default=0, help_text="Already imported, or no money moved.")
    error_count = models.PositiveIntegerField(default=0)
    # The first errors, each {"row": n, "column": "...", "message": "..."}; error_count has them all.
    errors = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True, default="")
    cancel_requested = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "background import"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.file_name} ({self.get_status_display()})"

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total_rows:
            return 0
        return min(100, self.rows_done * 100 // self.total_rows)


class ImportJobChunk(models.Model):
    """One piece (about 1 MiB) of an uploaded file, read back in order by the worker."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="chunks")
    seq = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="revenue_importjobchunk_unique_seq")]

    def __str__(self) -> str:
        return f"import job {self.job_id}, chunk {self.seq}"
