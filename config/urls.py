from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from django_rq.urls import get_admin_urlpatterns, get_api_urlpatterns
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.access import network_wide
from config.views import favicon, healthz, metrics

admin.site.site_header = "Postback portal"
admin.site.site_title = "Postback portal"
admin.site.index_title = "Affiliates, offers and postbacks"

# The RQ dashboard can empty or requeue every affiliate's postbacks: superusers and network admins.
rq_urls = (get_api_urlpatterns() + get_admin_urlpatterns(view_wrapper=network_wide), "django_rq")

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/rq/", include(rq_urls)),
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon, name="favicon"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("setup/", include("affiliates.urls")),
    path("partner/", include("partners.urls")),
    # The language switch of the affiliate pages (Django's set_language, a POST with CSRF).
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's init script from its own URL (?script=), not inline: the
    # Content-Security-Policy allows no inline script.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html"
        ),
        name="api-docs",
    ),
]
