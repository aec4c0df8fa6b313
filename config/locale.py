"""The language of a request: the affiliate-facing pages speak the affiliate's language, the rest
of the portal (admin, API, metrics) stays in English.

Django's LocaleMiddleware would also translate the admin and DRF's error answers for any client
whose browser asks for French; the API's answers are a contract, so the choice is made on the
affiliates' pages only: the language switch's cookie, else the browser's Accept-Language.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

AFFILIATE_PREFIXES = ("/setup/", "/partner/", "/i18n/")


class AffiliateLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if request.path_info.startswith(AFFILIATE_PREFIXES):
            super().process_request(request)
            return
        translation.activate(settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = settings.LANGUAGE_CODE

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if request.path_info.startswith(AFFILIATE_PREFIXES):
            return super().process_response(request, response)
        return response
