"""Per-case data keys, stored only in wrapped (encrypted) form.

The key-encryption keys (KEKs) that wrap them never touch the database: they come from
settings (``LIVLINA_KEKS``), so a database or backup leak alone yields no readable key.
"""

from __future__ import annotations

from django.db import models


class CaseKey(models.Model):
    """The data key of one case, wrapped under the KEK named by ``kek_id``.

    After crypto-shredding ``wrapped_key`` is NULL and ``shredded_at`` is set; the row stays
    as a tombstone so the case's content reports "erased" rather than "missing key", and so a
    new key can never be issued for a shredded case by accident.
    """

    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE, related_name="data_key")
    wrapped_key = models.BinaryField(null=True, blank=True)
    kek_id = models.CharField(max_length=64, help_text="id (kid) of the KEK that wraps this key")
    created_at = models.DateTimeField(auto_now_add=True)
    rewrapped_at = models.DateTimeField(null=True, blank=True)
    shredded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["kek_id"], name="vault_casekey_kek_id_idx")]

    def __str__(self) -> str:
        state = f"shredded {self.shredded_at:%Y-%m-%d}" if self.shredded_at else f"kek {self.kek_id}"
        return f"CaseKey(case={self.case_id}, {state})"

    @property
    def is_shredded(self) -> bool:
        return self.shredded_at is not None
