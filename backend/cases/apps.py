from django.apps import AppConfig

from backend.accounts.signals import device_revoked


class CasesConfig(AppConfig):
    name = "backend.cases"
    label = "cases"

    def ready(self) -> None:
        # Imported here, not at the top: `apps.py` loads while the app registry is being
        # filled, and `cases.services` imports models, which may only load once it is.
        from backend.cases.services import audit_device_revocation  # noqa: PLC0415

        device_revoked.connect(audit_device_revocation, dispatch_uid="cases.audit_device_revocation")
