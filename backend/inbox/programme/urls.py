from django.urls import path

from backend.inbox.programme import overview

# Each section's module keeps its own routes under /inbox/programmes/<id>/.
urlpatterns = [
    path("", overview.programmes_view, name="programme-pages"),
]
