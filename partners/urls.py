"""The affiliate's own postback pages, mounted at /partner/."""

from django.urls import path

from partners import views

app_name = "partner"

urlpatterns = [
    path("", views.home, name="home"),
    path("sign-in/", views.sign_in, name="sign-in"),
    path("sign-in/sent/", views.sign_in_sent, name="sign-in-sent"),
    path("sign-in/<str:token>/", views.sign_in_link, name="sign-in-link"),
    path("sign-out/", views.sign_out, name="sign-out"),
    path("log/", views.log, name="log"),
    path("replay/", views.replay, name="replay"),
    path("conversions/<int:conversion_id>/", views.conversion, name="conversion"),
    path("endpoints/<int:endpoint_id>/test/", views.endpoint_test, name="endpoint-test"),
    path("endpoints/<int:endpoint_id>/change/", views.change_request, name="change-request"),
]
