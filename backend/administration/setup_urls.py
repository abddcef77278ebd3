from django.urls import path

from backend.administration import setup_views

urlpatterns = [
    path("<str:token>/", setup_views.setup_view, name="account-setup"),
]
