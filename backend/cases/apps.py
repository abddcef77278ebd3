from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "backend.cases"
    label = "cases"

    def ready(self) -> None:
        from backend.accounts.signals import device_revoked
        from backend.cases.services import audit_device_revocation

        device_revoked.connect(audit_device_revocation, dispatch_uid="cases.audit_device_revocation")
