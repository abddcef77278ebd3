"""Opening a case: the one act that spans cases, vault and messaging."""

from __future__ import annotations

from django.db import transaction

from backend.accounts.models import Programme, User
from backend.cases.models import Case
from backend.cases.services import create_case
from backend.messaging.services import open_conversation
from backend.vault.services import create_case_key


def open_case(*, programme: Programme, alias: str, primary_contact: User, actor: User) -> Case:
    """Open a case for a new defector with ``primary_contact`` as its contact person.
    Transactional: the defector's login identity, the case and its assignment
    (``cases.services.create_case``, which also checks who may), its data key (vault) and
    its conversation (messaging) exist together or not at all. The actor must be a
    contact person, supervisor or admin in the programme."""
    with transaction.atomic():
        case = create_case(programme=programme, alias=alias, primary_contact=primary_contact, actor=actor)
        create_case_key(case=case)
        open_conversation(case=case)
    return case
