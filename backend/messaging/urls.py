from django.urls import path

from backend.messaging import views

urlpatterns = [
    path("conversations", views.ConversationListView.as_view(), name="conversation-list"),
    path("conversations/<int:conversation_id>/messages", views.MessagesView.as_view(), name="conversation-messages"),
    path("conversations/<int:conversation_id>/read", views.ReadView.as_view(), name="conversation-read"),
]
