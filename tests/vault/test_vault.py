"""Envelope encryption per case: sealing, tamper detection, crypto-shredding, KEK rotation."""

from __future__ import annotations

import secrets
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backend.accounts.models import Defector, Programme, User
from backend.audit.models import AuditEntry
from backend.cases.models import Case
from backend.vault import services as vault_services
from backend.vault.models import CaseKey
from backend.vault.services import (
    ContentShredded,
    ContentTampered,
    MissingCaseKey,
    VaultError,
    create_case_key,
    open_sealed,
    rewrap_all_case_keys,
    seal,
    shred_case_key,
)

pytestmark = pytest.mark.django_db

OLD_KEK = secrets.token_bytes(32)
NEW_KEK = secrets.token_bytes(32)
SECRET = "Jag bor nu på Storgatan 12, Umeå"


@pytest.fixture(autouse=True)
def _known_keks(settings: Any) -> None:
    """Every test starts with one KEK, "old", so results never depend on the dev key file."""
    settings.LIVLINA_KEKS = {"old": OLD_KEK}
    settings.LIVLINA_ACTIVE_KEK = "old"


def shred_events(case: Case) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action="case.shredded", case_id=case.pk))


def make_case(name: str = "a", *, with_key: bool = True) -> Case:
    programme, _ = Programme.objects.get_or_create(name="Exit Umeå")
    user = User.objects.create(username=f"defector-{name}", kind="defector")
    defector = Defector.objects.create(user=user, programme=programme, alias=f"Alias {name}")
    case = Case.objects.create(programme=programme, defector=defector)
    if with_key:
        create_case_key(case=case)
    return case


def staff_user() -> User:
    return User.objects.create(username="supervisor", kind="staff")


# --- sealing and opening -----------------------------------------------------------------


def test_sealed_content_opens_to_the_same_bytes() -> None:
    case = make_case()
    sealed = seal(case_id=case.pk, record="message:1:1", plaintext=SECRET)
    assert open_sealed(case_id=case.pk, record="message:1:1", ciphertext=sealed) == SECRET.encode()

    sealed_bytes = seal(case_id=case.pk, record="checkin:3", plaintext=b"\x00\xffbinary")
    assert open_sealed(case_id=case.pk, record="checkin:3", ciphertext=sealed_bytes) == b"\x00\xffbinary"


def test_sealing_twice_gives_different_bytes_without_the_plaintext() -> None:
    case = make_case()
    first = seal(case_id=case.pk, record="message:1:1", plaintext=SECRET)
    second = seal(case_id=case.pk, record="message:1:1", plaintext=SECRET)
    assert first != second
    assert first[:1] == b"\x01"
    for sealed in (first, second):
        assert SECRET.encode() not in sealed
        assert b"Storgatan" not in sealed
        # version byte + 24-byte nonce + ciphertext + 16-byte tag
        assert len(sealed) == 1 + 24 + len(SECRET.encode()) + 16


def test_ciphertext_moved_to_another_record_is_rejected() -> None:
    case = make_case()
    sealed = seal(case_id=case.pk, record="message:1:1", plaintext=SECRET)
    with pytest.raises(ContentTampered, match="failed authentication"):
        open_sealed(case_id=case.pk, record="message:1:2", ciphertext=sealed)


def test_ciphertext_moved_to_another_case_is_rejected() -> None:
    case_a, case_b = make_case("a"), make_case("b")
    sealed = seal(case_id=case_a.pk, record="message:1:1", plaintext=SECRET)
    with pytest.raises(ContentTampered):
        open_sealed(case_id=case_b.pk, record="message:1:1", ciphertext=sealed)


def test_wrapped_key_copied_onto_another_case_does_not_unwrap() -> None:
    case_a, case_b = make_case("a"), make_case("b")
    key_a = CaseKey.objects.get(case=case_a)
    sealed = seal(case_id=case_a.pk, record="message:1:1", plaintext=SECRET)
    # An attacker with database write access gives case B a copy of case A's wrapped key;
    # the wrap is bound to case A, so it does not unwrap for case B.
    CaseKey.objects.filter(case=case_b).update(wrapped_key=key_a.wrapped_key, kek_id=key_a.kek_id)
    with pytest.raises(VaultError, match=f"data key of case {case_b.pk} failed to unwrap"):
        open_sealed(case_id=case_b.pk, record="message:1:1", ciphertext=sealed)
    with pytest.raises(VaultError, match="failed to unwrap"):
        seal(case_id=case_b.pk, record="message:1:1", plaintext=SECRET)


@pytest.mark.parametrize("position", [0, 1, 12, 24, 25, 30, -1], ids=lambda p: f"byte{p}")
def test_flipping_any_byte_is_detected(position: int) -> None:
    case = make_case()
    sealed = bytearray(seal(case_id=case.pk, record="message:1:1", plaintext=SECRET))
    sealed[position] ^= 0x01
    with pytest.raises(ContentTampered):
        open_sealed(case_id=case.pk, record="message:1:1", ciphertext=bytes(sealed))


def test_truncated_ciphertext_is_detected() -> None:
    case = make_case()
    sealed = seal(case_id=case.pk, record="message:1:1", plaintext=SECRET)
    for cut in (sealed[:-1], sealed[:20], b""):
        with pytest.raises(ContentTampered):
            open_sealed(case_id=case.pk, record="message:1:1", ciphertext=cut)


def test_case_without_a_key_raises_missing_case_key() -> None:
    case = make_case(with_key=False)
    with pytest.raises(MissingCaseKey, match=f"Case {case.pk} has no data key"):
        seal(case_id=case.pk, record="message:1:1", plaintext=SECRET)
    with pytest.raises(MissingCaseKey):
        open_sealed(case_id=case.pk, record="message:1:1", ciphertext=b"\x01" + bytes(60))


def test_errors_share_one_base_class() -> None:
    assert issubclass(ContentShredded, VaultError)
    assert issubclass(ContentTampered, VaultError)
    assert issubclass(MissingCaseKey, VaultError)


def test_a_case_key_is_wrapped_under_the_active_kek_and_never_replaced() -> None:
    case = make_case()
    key = CaseKey.objects.get(case=case)
    assert key.kek_id == "old"
    # 24-byte nonce + 32-byte data key + 16-byte tag: wrapped, not stored raw.
    assert len(bytes(key.wrapped_key)) == 24 + 32 + 16
    with pytest.raises(VaultError, match="already has a data key"):
        create_case_key(case=case)


# --- crypto-shredding --------------------------------------------------------------------


def test_shredding_destroys_the_key_and_content_reports_erased() -> None:
    case = make_case()
    sealed = seal(case_id=case.pk, record="message:1:1", plaintext=SECRET)
    actor = staff_user()

    shred_case_key(case=case, actor=actor)

    key = CaseKey.objects.get(case=case)
    assert key.wrapped_key is None
    assert key.shredded_at is not None
    with pytest.raises(ContentShredded) as excinfo:
        open_sealed(case_id=case.pk, record="message:1:1", ciphertext=sealed)
    message = str(excinfo.value)
    assert f"case {case.pk}" in message
    assert "erased (crypto-shredded)" in message
    assert key.shredded_at.strftime("%Y-%m-%d") in message
    assert excinfo.value.shredded_at == key.shredded_at
    [event] = shred_events(case)
    assert (event.actor_id, event.target) == (actor.pk, f"case:{case.pk}")


def test_shredding_twice_changes_nothing_and_audits_once() -> None:
    case = make_case()
    actor = staff_user()
    shred_case_key(case=case, actor=actor)
    first_shredded_at = CaseKey.objects.get(case=case).shredded_at

    shred_case_key(case=case, actor=actor)

    assert CaseKey.objects.get(case=case).shredded_at == first_shredded_at
    assert len(shred_events(case)) == 1


def test_a_shredded_case_accepts_no_new_content_and_no_new_key() -> None:
    case = make_case()
    shred_case_key(case=case, actor=staff_user())
    with pytest.raises(ContentShredded):
        seal(case_id=case.pk, record="message:1:2", plaintext="new")
    with pytest.raises(VaultError, match="already has a data key"):
        create_case_key(case=case)


def test_shredding_a_case_without_a_key_leaves_it_erased() -> None:
    case = make_case(with_key=False)
    shred_case_key(case=case, actor=None)
    with pytest.raises(ContentShredded):
        open_sealed(case_id=case.pk, record="message:1:1", ciphertext=b"\x01" + bytes(60))
    [event] = shred_events(case)
    assert event.actor_id is None


def test_shredding_rolls_back_when_the_audit_entry_cannot_be_written(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_record_event(**kwargs: Any) -> None:
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(vault_services, "record_event", failing_record_event)
    case = make_case()
    sealed = seal(case_id=case.pk, record="message:1:1", plaintext=SECRET)

    with pytest.raises(RuntimeError, match="audit log unavailable"):
        shred_case_key(case=case, actor=staff_user())

    key = CaseKey.objects.get(case=case)
    assert key.shredded_at is None
    assert key.wrapped_key is not None
    assert open_sealed(case_id=case.pk, record="message:1:1", ciphertext=sealed) == SECRET.encode()


# --- KEK rotation --------------------------------------------------------------------------


def test_rewrap_moves_keys_to_the_new_kek_and_the_old_kek_can_be_removed(settings: Any) -> None:
    cases = [make_case(name) for name in "abc"]
    sealed = {case.pk: seal(case_id=case.pk, record="message:1:1", plaintext=f"{SECRET} {case.pk}") for case in cases}

    settings.LIVLINA_KEKS = {"old": OLD_KEK, "new": NEW_KEK}
    settings.LIVLINA_ACTIVE_KEK = "new"
    assert rewrap_all_case_keys(batch_size=2) == 3

    keys = CaseKey.objects.order_by("pk")
    assert [key.kek_id for key in keys] == ["new", "new", "new"]
    assert all(key.rewrapped_at is not None for key in keys)

    settings.LIVLINA_KEKS = {"new": NEW_KEK}
    for case in cases:
        opened = open_sealed(case_id=case.pk, record="message:1:1", ciphertext=sealed[case.pk])
        assert opened == f"{SECRET} {case.pk}".encode()
    assert rewrap_all_case_keys() == 0


def test_rewrap_skips_shredded_keys_and_keys_already_on_the_active_kek(
    settings: Any,
) -> None:
    shredded, on_old = make_case("a"), make_case("b")
    shred_case_key(case=shredded, actor=None)
    settings.LIVLINA_KEKS = {"old": OLD_KEK, "new": NEW_KEK}
    settings.LIVLINA_ACTIVE_KEK = "new"
    on_new = make_case("c")

    assert rewrap_all_case_keys() == 1

    assert CaseKey.objects.get(case=on_old).kek_id == "new"
    assert CaseKey.objects.get(case=on_new).rewrapped_at is None
    assert CaseKey.objects.get(case=shredded).wrapped_key is None


def test_a_key_under_an_unconfigured_kek_gives_an_error_naming_the_kid(settings: Any) -> None:
    case = make_case()
    sealed = seal(case_id=case.pk, record="message:1:1", plaintext=SECRET)
    # The operator switched to "new" and dropped "old" before rotating.
    settings.LIVLINA_KEKS = {"new": NEW_KEK}
    settings.LIVLINA_ACTIVE_KEK = "new"

    with pytest.raises(VaultError, match=r"KEK 'old', which is not configured"):
        rewrap_all_case_keys()
    assert CaseKey.objects.get(case=case).kek_id == "old"

    with pytest.raises(VaultError, match=r"Key-encryption key 'old' is not configured"):
        open_sealed(case_id=case.pk, record="message:1:1", ciphertext=sealed)

    settings.LIVLINA_KEKS = {"old": OLD_KEK, "new": NEW_KEK}
    assert rewrap_all_case_keys() == 1


def test_rewrap_command_reports_the_count_and_the_kek(settings: Any) -> None:
    make_case("a")
    make_case("b")
    settings.LIVLINA_KEKS = {"old": OLD_KEK, "new": NEW_KEK}
    settings.LIVLINA_ACTIVE_KEK = "new"
    out = StringIO()

    call_command("rewrap_data_keys", stdout=out)

    assert out.getvalue().strip() == "re-wrapped 2 data keys under KEK new"
    out = StringIO()
    call_command("rewrap_data_keys", stdout=out)
    assert out.getvalue().strip() == "re-wrapped 0 data keys under KEK new"


def test_rewrap_command_fails_with_a_clear_message_when_a_kek_is_missing(settings: Any) -> None:
    make_case()
    settings.LIVLINA_KEKS = {"new": NEW_KEK}
    settings.LIVLINA_ACTIVE_KEK = "new"

    with pytest.raises(CommandError, match=r"Key rotation failed: .*KEK 'old'") as excinfo:
        call_command("rewrap_data_keys")
    assert excinfo.value.returncode != 0
