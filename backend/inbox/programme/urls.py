from django.urls import include, path

from backend.inbox.programme import (
    audit_pages,
    case_pages,
    oncall_pages,
    overview,
    settings_pages,
    staff_pages,
    transfer_pages,
)

# Each section's module keeps its own routes under /inbox/programmes/<id>/.
urlpatterns = [
    path("", overview.programmes_view, name="programme-pages"),
    path("<int:programme_id>/staff/", include(staff_pages)),
    path("<int:programme_id>/settings/", include(settings_pages)),
    path("<int:programme_id>/audit/", include(audit_pages)),
    path("<int:programme_id>/", include(case_pages)),
    path("<int:programme_id>/", include(transfer_pages)),
    path("<int:programme_id>/", include(oncall_pages)),
]
