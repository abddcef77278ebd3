from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "backend.inbox"
    label = "inbox"
