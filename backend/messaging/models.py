"""Conversations, messages, read markers, and the checks that a defector's message was
answered in time. Bodies are stored only sealed with the case's data key."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Conversation(models.Model):
    """One per case, between the defector and the staff on the case. ``last_seq`` is the
    sequence counter: a sender locks this row to take the next number, so concurrent
    senders never produce a gap or a duplicate."""

    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE, related_name="conversation")
    last_seq = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveBigIntegerField()
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    sender_device = models.ForeignKey(
        "accounts.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    client_id = models.UUIDField()
    body_sealed = models.BinaryField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="unique_message_seq"),
            models.UniqueConstraint(fields=["conversation", "sender", "client_id"], name="unique_message_client_id"),
        ]

    @property
    def vault_record(self) -> str:
        return message_record(self.conversation_id, self.seq)


def message_record(conversation_id: int, seq: int) -> str:
    """What a message's ciphertext is bound to, so it cannot be moved to another row."""
    return f"message:{conversation_id}:{seq}"


class ReadState(models.Model):
    """How far a participant has read; unread = last_seq - last_read_seq (minus own messages)."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="read_states")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_read_seq = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["conversation", "user"], name="unique_read_state")]


class UnansweredCheck(models.Model):
    """Due when a defector message must have been read or answered by staff; the worker
    sweeps due checks (``messaging.unanswered``)."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveBigIntegerField()
    due_at = models.DateTimeField(db_index=True)
