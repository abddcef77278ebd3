"""The audit log notices tampering done directly in the database, not just through the ORM."""

from __future__ import annotations

import base64
import itertools
import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from nacl.signing import SigningKey

from backend.audit.hashing import checkpoint_message, compute_entry_hash
from backend.audit.management.commands.verify_audit import Command as VerifyAuditCommand
from backend.audit.models import GENESIS_HASH, AppendOnlyError, AuditCheckpoint, AuditEntry, AuditHead
from backend.audit.services import (
    AuditEvent,
    AuditIntegrityError,
    record_event,
    record_events,
    write_checkpoint,
)
from backend.audit.verification import verify_chain

pytestmark = pytest.mark.django_db


def sql(query: str, params: tuple[Any, ...] = ()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(query, params)


def record_n(n: int) -> list[AuditEntry]:
    return [
        record_event(
            action="case.read",
            case_id=100 + i,
            target=f"case:{100 + i}",
            reason=f"reason {i}",
            details={"n": i, "note": "läst"},
        )
        for i in range(1, n + 1)
    ]


def rows() -> list[dict[str, Any]]:
    return list(AuditEntry.objects.order_by("seq").values())


def rehash_everything_with_sql() -> None:
    """What an attacker with database access but no signing key can do: recompute every
    hash so the chain links again, and fix up the head row."""
    prev = GENESIS_HASH
    for row in rows():
        new_hash = compute_entry_hash(
            prev_hash=prev,
            seq=row["seq"],
            created_at=row["created_at"],
            actor_id=row["actor_id"],
            actor_label=row["actor_label"],
            action=row["action"],
            case_id=row["case_id"],
            target=row["target"],
            reason=row["reason"],
            details=row["details"],
        )
        sql(
            "UPDATE audit_auditentry SET prev_hash = %s, entry_hash = %s WHERE seq = %s",
            (prev, new_hash, row["seq"]),
        )
        prev = new_hash
    last_seq = rows()[-1]["seq"]
    sql("UPDATE audit_audithead SET seq = %s, entry_hash = %s WHERE id = 1", (last_seq, prev))


def chain_links_without_checkpoints() -> bool:
    prev = GENESIS_HASH
    for expected_seq, row in enumerate(rows(), start=1):
        recomputed = compute_entry_hash(
            prev_hash=prev,
            seq=row["seq"],
            created_at=row["created_at"],
            actor_id=row["actor_id"],
            actor_label=row["actor_label"],
            action=row["action"],
            case_id=row["case_id"],
            target=row["target"],
            reason=row["reason"],
            details=row["details"],
        )
        if row["seq"] != expected_seq or row["prev_hash"] != prev or row["entry_hash"] != recomputed:
            return False
        prev = row["entry_hash"]
    return AuditHead.objects.get(pk=1).entry_hash == prev


# --- an intact log ---------------------------------------------------------------------


def test_appended_entries_form_a_contiguous_chain_that_verifies():
    entries = record_n(5)

    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.entry_hash for earlier, later in itertools.pairwise(entries))
    assert len({e.entry_hash for e in entries}) == 5
    head = AuditHead.objects.get(pk=1)
    assert (head.seq, head.entry_hash) == (5, entries[-1].entry_hash)

    result = verify_chain()
    assert result.ok, result.problem
    assert (result.entries_checked, result.checkpoints_checked, result.first_broken_seq) == (5, 0, None)


def test_empty_log_verifies():
    result = verify_chain()
    assert result.ok
    assert result.entries_checked == 0


def test_entry_records_who_what_when_why():
    user = get_user_model().objects.create_user(username="kontakt-anna", password=None)
    entry = record_event(
        action="case.read", actor=user, case_id=7, target="conversation:3", reason="assigned contact person"
    )
    entry.refresh_from_db()
    assert (entry.actor_id, entry.actor_label) == (user.pk, "kontakt-anna")
    assert (entry.action, entry.case_id, entry.target, entry.reason) == (
        "case.read",
        7,
        "conversation:3",
        "assigned contact person",
    )
    assert entry.created_at is not None


def test_deleting_the_actor_leaves_the_entry_and_the_chain_intact():
    user = get_user_model().objects.create_user(username="kontakt-bo", password=None)
    entry = record_event(action="staff.login", actor=user, target=f"user:{user.pk}")
    user_pk = user.pk
    user.delete()

    entry.refresh_from_db()
    assert (entry.actor_id, entry.actor_label) == (user_pk, "kontakt-bo")
    assert verify_chain().ok


def test_details_with_datetimes_uuids_decimals_and_floats_survive_storage_and_verify():
    record_event(
        action="test.details",
        details={
            "at": datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
            "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
            "amount": Decimal("1.50"),
            "big_float": 1e16,
            "small_float": 0.1,
            "nested": {"list": [1, "två", None, True], 3: "int key"},
        },
    )
    stored = AuditEntry.objects.get(seq=1).details
    assert stored["id"] == "12345678-1234-5678-1234-567812345678"
    assert stored["big_float"] == "1e+16"
    assert stored["nested"]["3"] == "int key"
    assert verify_chain().ok


def test_overlong_action_or_target_is_refused_before_anything_is_written():
    with pytest.raises(ValueError):
        record_event(action="x" * 65)
    with pytest.raises(ValueError):
        record_event(action="case.read", target="t" * 201)
    with pytest.raises(ValueError):
        record_event(action="")
    assert AuditEntry.objects.count() == 0


def test_the_orm_refuses_to_change_or_delete_entries():
    entry = record_n(1)[0]
    entry.action = "something.else"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(seq=1).update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get(seq=1).action == "case.read"


# --- tampering with SQL --------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("action", "staff.login"),
        ("reason", "nothing to see"),
        ("target", "case:1"),
        ("actor_id", 999),
        ("actor_label", "someone-else"),
        ("case_id", 1),
        ("created_at", datetime(2020, 1, 1, tzinfo=UTC)),
        ("details", '{"n": 3, "note": "changed"}'),
    ],
)
def test_an_entry_updated_in_sql_is_caught_at_its_seq(column, value):
    record_n(5)
    sql(f"UPDATE audit_auditentry SET {column} = %s WHERE seq = 3", (value,))

    result = verify_chain()
    assert not result.ok
    assert result.first_broken_seq == 3
    assert "altered" in result.problem
    assert result.entries_checked == 2


def test_a_timestamp_moved_by_one_microsecond_is_caught():
    entries = record_n(3)
    sql(
        "UPDATE audit_auditentry SET created_at = %s WHERE seq = 2",
        (entries[1].created_at + timedelta(microseconds=1),),
    )
    result = verify_chain()
    assert (result.ok, result.first_broken_seq) == (False, 2)


def test_a_deleted_middle_entry_is_caught():
    record_n(5)
    sql("DELETE FROM audit_auditentry WHERE seq = 3")

    result = verify_chain()
    assert not result.ok
    assert result.first_broken_seq == 3
    assert "missing" in result.problem


def test_a_deleted_middle_entry_with_renumbered_successors_is_caught():
    record_n(5)
    sql("DELETE FROM audit_auditentry WHERE seq = 3")
    sql("UPDATE audit_auditentry SET seq = 3 WHERE seq = 4")
    sql("UPDATE audit_auditentry SET seq = 4 WHERE seq = 5")
    sql("UPDATE audit_audithead SET seq = 4 WHERE id = 1")

    result = verify_chain()
    assert (result.ok, result.first_broken_seq) == (False, 3)


def test_swapped_entries_are_caught():
    record_n(5)
    sql("UPDATE audit_auditentry SET seq = 1000 WHERE seq = 2")
    sql("UPDATE audit_auditentry SET seq = 2 WHERE seq = 3")
    sql("UPDATE audit_auditentry SET seq = 3 WHERE seq = 1000")

    result = verify_chain()
    assert not result.ok
    assert result.first_broken_seq == 2


def test_a_removed_tail_is_caught_by_the_head():
    record_n(5)
    sql("DELETE FROM audit_auditentry WHERE seq >= 4")

    result = verify_chain()
    assert not result.ok
    assert result.first_broken_seq == 4
    assert "head" in result.problem
    assert result.entries_checked == 3


def test_a_removed_tail_with_the_head_fixed_up_is_caught_by_a_checkpoint(settings):
    settings.LIVLINA_AUDIT_CHECKPOINT_EVERY = 3
    entries = record_n(7)  # checkpoints at 3 and 6
    sql("DELETE FROM audit_auditentry WHERE seq >= 5")
    sql("UPDATE audit_audithead SET seq = 4, entry_hash = %s WHERE id = 1", (entries[3].entry_hash,))

    result = verify_chain()
    assert not result.ok
    assert result.first_broken_seq == 5
    assert "checkpoint names entry 6" in result.problem


def test_an_entry_appended_beyond_the_head_is_caught():
    entries = record_n(3)
    sql(
        "INSERT INTO audit_auditentry (seq, created_at, actor_id, actor_label, action, case_id, target, reason,"
        " details, prev_hash, entry_hash) VALUES (%s, %s, NULL, '', 'fake', NULL, '', '', '{}', %s, %s)",
        (4, entries[-1].created_at, entries[-1].entry_hash, "f" * 64),
    )
    result = verify_chain()
    assert not result.ok
    assert result.first_broken_seq == 4
    assert "beyond the head" in result.problem


def test_a_fully_rewritten_chain_is_caught_by_the_signed_checkpoint(settings):
    settings.LIVLINA_AUDIT_CHECKPOINT_EVERY = 3
    record_n(7)  # checkpoints at 3 and 6
    assert AuditCheckpoint.objects.count() == 2
    sql("UPDATE audit_auditentry SET action = 'staff.login', reason = '' WHERE seq = 2")
    rehash_everything_with_sql()
    assert chain_links_without_checkpoints(), "the rewrite should hide the edit from the hash chain alone"

    result = verify_chain()
    assert not result.ok
    assert result.first_broken_seq == 3
    assert "rewritten" in result.problem


def test_rewritten_chain_with_checkpoint_hashes_edited_to_match_is_caught_by_the_signature(settings):
    settings.LIVLINA_AUDIT_CHECKPOINT_EVERY = 3
    record_n(7)
    sql("UPDATE audit_auditentry SET action = 'staff.login' WHERE seq = 2")
    rehash_everything_with_sql()
    for cp_seq in (3, 6):
        new_hash = AuditEntry.objects.get(seq=cp_seq).entry_hash
        sql("UPDATE audit_auditcheckpoint SET entry_hash = %s WHERE seq = %s", (new_hash, cp_seq))

    result = verify_chain()
    assert not result.ok
    assert result.first_broken_seq == 3
    assert "invalid signature" in result.problem


def test_rewritten_chain_with_checkpoints_deleted_is_caught_by_the_checkpoint_cadence(settings):
    settings.LIVLINA_AUDIT_CHECKPOINT_EVERY = 3
    record_n(7)
    sql("UPDATE audit_auditentry SET action = 'staff.login' WHERE seq = 2")
    rehash_everything_with_sql()
    sql("DELETE FROM audit_auditcheckpoint")

    result = verify_chain()
    assert not result.ok
    assert "checkpoints were removed" in result.problem
    assert result.first_broken_seq == 1


def test_deleting_only_the_newest_checkpoint_is_caught(settings):
    settings.LIVLINA_AUDIT_CHECKPOINT_EVERY = 3
    record_n(7)
    sql("DELETE FROM audit_auditcheckpoint WHERE seq = 6")

    result = verify_chain()
    assert not result.ok
    assert result.first_broken_seq == 4
    assert "checkpoints were removed" in result.problem


def test_known_limit_the_unsigned_tail_after_the_last_checkpoint_can_be_rewritten(settings):
    # Documented in docs/audit.md: this is why the worker checkpoints regularly.
    settings.LIVLINA_AUDIT_CHECKPOINT_EVERY = 5
    record_n(7)  # checkpoint at 5; 6 and 7 are not yet signed
    sql("UPDATE audit_auditentry SET action = 'staff.login' WHERE seq = 7")
    rehash_everything_with_sql()
    assert verify_chain().ok


def test_a_checkpoint_with_a_forged_signature_is_caught(settings):
    settings.LIVLINA_AUDIT_CHECKPOINT_EVERY = 3
    record_n(4)
    checkpoint = AuditCheckpoint.objects.get(seq=3)
    # A real Ed25519 signature over the right message, made with a key that is not ours.
    stranger = SigningKey.generate()
    message = checkpoint_message(seq=3, entry_hash=checkpoint.entry_hash, created_at=checkpoint.created_at)
    forged = base64.b64encode(stranger.sign(message).signature).decode()
    sql("UPDATE audit_auditcheckpoint SET signature = %s WHERE seq = 3", (forged,))

    result = verify_chain()
    assert not result.ok
    assert result.first_broken_seq == 3
    assert "invalid signature" in result.problem


@pytest.mark.parametrize("signature", ["not base64!", base64.b64encode(b"short").decode(), ""])
def test_a_checkpoint_with_a_malformed_signature_is_caught(settings, signature):
    settings.LIVLINA_AUDIT_CHECKPOINT_EVERY = 2
    record_n(2)
    sql("UPDATE audit_auditcheckpoint SET signature = %s WHERE seq = 2", (signature,))
    result = verify_chain()
    assert (result.ok, result.first_broken_seq) == (False, 2)


def test_a_checkpoint_with_a_moved_timestamp_is_caught(settings):
    settings.LIVLINA_AUDIT_CHECKPOINT_EVERY = 2
    record_n(2)
    sql("UPDATE audit_auditcheckpoint SET created_at = %s WHERE seq = 2", (datetime(2020, 1, 1, tzinfo=UTC),))
    result = verify_chain()
    assert (result.ok, result.first_broken_seq) == (False, 2)
    assert "invalid signature" in result.problem


def test_a_checkpoint_signed_with_another_key_is_caught(settings):
    settings.LIVLINA_AUDIT_CHECKPOINT_EVERY = 3
    record_n(3)
    settings.LIVLINA_AUDIT_SIGNING_KEY = bytes(SigningKey.generate())

    result = verify_chain()
    assert not result.ok
    assert result.first_broken_seq == 3
    assert "key" in result.problem


# --- checkpoints -----------------------------------------------------------------------


def test_every_nth_entry_is_checkpointed_in_the_same_transaction(settings):
    settings.LIVLINA_AUDIT_CHECKPOINT_EVERY = 4
    entries = record_n(9)

    checkpoints = list(AuditCheckpoint.objects.order_by("seq"))
    assert [(cp.seq, cp.entry_hash) for cp in checkpoints] == [(4, entries[3].entry_hash), (8, entries[7].entry_hash)]
    public = SigningKey(settings.LIVLINA_AUDIT_SIGNING_KEY).verify_key
    assert all(cp.key_id == bytes(public).hex()[:16] for cp in checkpoints)
    result = verify_chain()
    assert result.ok, result.problem
    assert (result.entries_checked, result.checkpoints_checked) == (9, 2)


def test_write_checkpoint_signs_the_head_once():
    assert write_checkpoint() is None  # empty log: nothing to sign
    entries = record_n(3)

    checkpoint = write_checkpoint()
    assert checkpoint is not None
    assert (checkpoint.seq, checkpoint.entry_hash) == (3, entries[-1].entry_hash)
    assert write_checkpoint() is None
    assert AuditCheckpoint.objects.count() == 1

    result = verify_chain()
    assert result.ok, result.problem
    assert result.checkpoints_checked == 1


def test_audit_checkpoint_command_prints_the_checkpoint():
    record_n(2)
    out = StringIO()
    call_command("audit_checkpoint", stdout=out)
    assert "checkpoint at seq 2" in out.getvalue()
    assert AuditCheckpoint.objects.filter(seq=2).exists()

    out = StringIO()
    call_command("audit_checkpoint", stdout=out)
    assert "no new checkpoint" in out.getvalue()


# --- transactions ------------------------------------------------------------------------


def test_an_entry_in_a_rolled_back_transaction_leaves_no_trace():
    record_n(2)
    head_before = AuditHead.objects.values_list("seq", "entry_hash").get(pk=1)

    with pytest.raises(RuntimeError), transaction.atomic():
        record_event(action="case.read", case_id=5, target="case:5")
        raise RuntimeError("the caller's action failed")

    assert AuditEntry.objects.count() == 2
    assert AuditHead.objects.values_list("seq", "entry_hash").get(pk=1) == head_before
    assert verify_chain().ok
    assert record_event(action="case.read").seq == 3
    assert verify_chain().ok


def test_a_rolled_back_checkpointing_entry_takes_its_checkpoint_with_it(settings):
    settings.LIVLINA_AUDIT_CHECKPOINT_EVERY = 3
    record_n(2)
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event(action="case.read")
        assert AuditCheckpoint.objects.filter(seq=3).exists()
        raise RuntimeError("rollback")

    assert not AuditCheckpoint.objects.exists()
    entry = record_event(action="case.opened")
    assert AuditCheckpoint.objects.get(seq=3).entry_hash == entry.entry_hash
    assert verify_chain().ok


# --- the head row --------------------------------------------------------------------------


def test_the_head_row_is_recreated_for_an_empty_log():
    AuditHead.objects.all().delete()
    assert record_event(action="case.read").seq == 1
    assert verify_chain().ok


def test_a_missing_head_row_in_a_non_empty_log_blocks_appends_and_fails_verification():
    record_n(2)
    sql("DELETE FROM audit_audithead")
    with pytest.raises(AuditIntegrityError):
        record_event(action="case.read")
    result = verify_chain()
    assert not result.ok
    assert "head row is missing" in result.problem


# --- the verify_audit command ------------------------------------------------------------


def test_verify_audit_command_reports_ok():
    record_n(4)
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue().strip() == "audit log OK: 4 entries, 0 checkpoints"


def test_verify_audit_command_fails_with_the_broken_seq():
    record_n(4)
    sql("UPDATE audit_auditentry SET reason = 'edited' WHERE seq = 2")

    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit")
    assert excinfo.value.returncode == 1
    assert "entry 2" in str(excinfo.value)
    assert "altered" in str(excinfo.value)


def test_verify_audit_from_the_command_line_exits_1_and_writes_to_stderr(capsys, monkeypatch):
    # run_from_argv is what manage.py calls; keep it from closing the test's connection.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)
    record_n(3)
    sql("DELETE FROM audit_auditentry WHERE seq = 2")

    with pytest.raises(SystemExit) as excinfo:
        VerifyAuditCommand().run_from_argv(["manage.py", "verify_audit"])
    assert excinfo.value.code == 1
    captured = capsys.readouterr()
    assert "entry 2" in captured.err
    assert "missing" in captured.err
    assert "audit log OK" not in captured.out


def test_verify_audit_from_the_command_line_exits_0_when_intact(capsys, monkeypatch):
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)
    record_n(3)
    VerifyAuditCommand().run_from_argv(["manage.py", "verify_audit"])  # raises SystemExit on failure
    assert capsys.readouterr().out.strip() == "audit log OK: 3 entries, 0 checkpoints"


# --- concurrency (PostgreSQL) --------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_in_separate_connections_never_fork_the_chain(settings):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks (set DATABASE_URL)")
    settings.LIVLINA_AUDIT_CHECKPOINT_EVERY = 7
    # Start from a missing head row, so the lazy creation races too.
    AuditHead.objects.all().delete()
    writers, per_writer = 8, 15
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(k: int) -> None:
        try:
            barrier.wait()
            for i in range(per_writer):
                record_event(action="test.concurrent", target=f"w{k}:{i}")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(k,)) for k in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    total = writers * per_writer
    assert list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, total + 1))
    assert set(AuditCheckpoint.objects.values_list("seq", flat=True)) == set(range(7, total + 1, 7))
    result = verify_chain()
    assert result.ok, result.problem
    assert (result.entries_checked, result.checkpoints_checked) == (total, total // 7)


def test_entries_appended_in_bulk_extend_one_chain_with_checkpoints_inside_the_batch(settings, django_user_model):
    settings.LIVLINA_AUDIT_CHECKPOINT_EVERY = 3
    actor = django_user_model.objects.create_user(username="bulk-actor", password="x" * 16)
    record_n(2)
    batch = record_events(
        [
            AuditEvent(action="alert.raised", case_id=i, target=f"alert:{i}", details={"kind": "missed", "x": 0.5})
            for i in range(5)
        ]
        + [AuditEvent(action="case.read", actor=actor, case_id=9, reason="bulk")]
    )
    record_n(1)
    assert record_events([]) == []
    assert [e.seq for e in batch] == [3, 4, 5, 6, 7, 8]
    assert batch[0].prev_hash == AuditEntry.objects.get(seq=2).entry_hash
    assert (batch[-1].actor_id, batch[-1].actor_label) == (actor.pk, "bulk-actor")
    assert list(AuditCheckpoint.objects.values_list("seq", flat=True)) == [3, 6, 9]
    assert AuditHead.objects.get().seq == 9
    result = verify_chain()
    assert result.ok, result.problem
    assert result.entries_checked == 9


def test_a_bulk_append_that_is_rolled_back_leaves_no_trace():
    record_n(1)
    with pytest.raises(RuntimeError), transaction.atomic():
        record_events([AuditEvent(action="alert.raised", target=f"alert:{i}") for i in range(3)])
        raise RuntimeError("the caller's change failed")
    assert AuditEntry.objects.count() == 1
    assert AuditHead.objects.get().seq == 1
    assert verify_chain().ok


def test_a_bulk_entry_that_does_not_fit_refuses_the_whole_batch():
    with pytest.raises(ValueError):
        record_events([AuditEvent(action="ok"), AuditEvent(action="x" * 65)])
    assert AuditEntry.objects.count() == 0
