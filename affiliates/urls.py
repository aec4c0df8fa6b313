"""The affiliate's setup form (docs/spec.md §7), mounted at /setup/."""

from django.urls import path

from affiliates import views

app_name = "setup"

urlpatterns = [
    path("", views.setup_form, name="form"),
    path("preview/", views.setup_preview, name="preview"),
    path("receiver-preset/", views.receiver_preset, name="receiver-preset"),
    path("done/<str:signed>/", views.setup_done, name="done"),
    path("<str:token>/", views.setup_form, name="invite"),
    path("<str:token>/preview/", views.setup_preview, name="invite-preview"),
]
