from django.apps import AppConfig


class VaultConfig(AppConfig):
    name = "backend.vault"
    label = "vault"
