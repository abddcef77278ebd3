from django.urls import path

from backend.crisis import phrase_views

urlpatterns = [
    path("programmes/<int:programme_id>/phrases", phrase_views.PhraseListView.as_view(), name="programme-phrases"),
    path(
        "programmes/<int:programme_id>/phrases/history",
        phrase_views.PhraseHistoryView.as_view(),
        name="programme-phrase-history",
    ),
    path(
        "programmes/<int:programme_id>/phrases/<int:phrase_id>",
        phrase_views.PhraseDetailView.as_view(),
        name="programme-phrase",
    ),
]
