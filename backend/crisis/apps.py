from django.apps import AppConfig


class CrisisConfig(AppConfig):
    name = "backend.crisis"
    label = "crisis"
