from django.http import HttpRequest, HttpResponse
from django.urls import path

from bench.afternoon import views


def healthz(request: HttpRequest) -> HttpResponse:
    """For the bench to know the server is up; not part of what is measured."""
    return HttpResponse("ok")


urlpatterns = [
    path("api/v1/conversions/", views.conversions),
    path("healthz", healthz),
]
