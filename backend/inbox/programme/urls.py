from django.urls import include, path

from backend.inbox.programme import case_pages, oncall_pages, overview, transfer_pages

# Each section's module keeps its own routes under /inbox/programmes/<id>/.
urlpatterns = [
    path("", overview.programmes_view, name="programme-pages"),
    path("<int:programme_id>/", include(case_pages.urlpatterns)),
    path("<int:programme_id>/", include(transfer_pages.urlpatterns)),
    path("<int:programme_id>/", include(oncall_pages.urlpatterns)),
]
