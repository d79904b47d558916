from django.urls import path

from . import views

urlpatterns = [
    path("notices/", views.NoticeListView.as_view(), name="notice-list"),
    path("notices/deliveries/", views.DeliveryListView.as_view(), name="notice-delivery-list"),
    path("notices/deliveries/replay/", views.DeliveryReplayView.as_view(), name="notice-delivery-replay"),
    path("notices/item-usage/", views.ItemUsageView.as_view(), name="notice-item-usage"),
    path("webhooks/endpoints/", views.EndpointListCreateView.as_view(), name="webhook-endpoint-list"),
    path("webhooks/endpoints/<int:pk>/", views.EndpointDetailView.as_view(), name="webhook-endpoint-detail"),
    path("webhooks/endpoints/<int:pk>/test/", views.EndpointTestView.as_view(), name="webhook-endpoint-test"),
    path("webhooks/endpoints/<int:pk>/rotate-secret/", views.EndpointRotateView.as_view(), name="webhook-endpoint-rotate"),
    path("catalog/releases/<str:label>/ack/", views.ReleaseAckView.as_view(), name="release-ack"),
]
