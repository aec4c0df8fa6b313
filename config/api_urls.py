"""The API under /api/v1/ (docs/spec.md §5)."""

from django.urls import path

from affiliates.apis import AffiliateDetailApi, AffiliateListCreateApi
from offers.apis import OfferDetailApi, OfferListCreateApi
from postbacks.apis import (
    ConversionBatchApi,
    ConversionDetailApi,
    ConversionIngestApi,
    DeliveryDetailApi,
    DeliveryReplayApi,
)
from postbacks.endpoint_apis import EndpointDetailApi, EndpointListCreateApi, EndpointTestApi
from postbacks.mending_apis import ConversionAttributeApi
from postbacks.receiver_apis import ReceiverPresetListApi
from postbacks.status_apis import ConversionStatusApi, ConversionStatusBatchApi

urlpatterns = [
    path("conversions/", ConversionIngestApi.as_view(), name="conversion-ingest"),
    path("conversions/batch/", ConversionBatchApi.as_view(), name="conversion-batch"),
    path("conversions/status/", ConversionStatusBatchApi.as_view(), name="conversion-status-batch"),
    path("conversions/<int:pk>/", ConversionDetailApi.as_view(), name="conversion-detail"),
    path("conversions/<int:pk>/status/", ConversionStatusApi.as_view(), name="conversion-status"),
    path(
        "conversions/<int:pk>/attribute/",
        ConversionAttributeApi.as_view(),
        name="conversion-attribute",
    ),
    path("deliveries/replay/", DeliveryReplayApi.as_view(), name="delivery-replay"),
    path("deliveries/<int:pk>/", DeliveryDetailApi.as_view(), name="delivery-detail"),
    path("affiliates/", AffiliateListCreateApi.as_view(), name="affiliate-list"),
    path("affiliates/<int:pk>/", AffiliateDetailApi.as_view(), name="affiliate-detail"),
    path("offers/", OfferListCreateApi.as_view(), name="offer-list"),
    path("offers/<int:pk>/", OfferDetailApi.as_view(), name="offer-detail"),
    path("postback-endpoints/", EndpointListCreateApi.as_view(), name="endpoint-list"),
    path("postback-endpoints/<int:pk>/", EndpointDetailApi.as_view(), name="endpoint-detail"),
    path("postback-endpoints/<int:pk>/test/", EndpointTestApi.as_view(), name="endpoint-test"),
    path("receiver-presets/", ReceiverPresetListApi.as_view(), name="receiver-presets"),
]
