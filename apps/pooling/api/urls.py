from django.urls import path

from . import views

urlpatterns = [
    path("accounts/", views.AccountListView.as_view(), name="account-list"),
    path("accounts/<int:pk>/", views.AccountDetailView.as_view(), name="account-detail"),
    path("accounts/<int:pk>/entries/", views.AccountEntriesView.as_view(), name="account-entries"),
    path("transfers/", views.TransferListCreateView.as_view(), name="transfer-list"),
    path("transfers/<int:pk>/", views.TransferDetailView.as_view(), name="transfer-detail"),
    path("transfers/<int:pk>/approve/", views.TransferApproveView.as_view(), name="transfer-approve"),
    path("transfers/<int:pk>/reject/", views.TransferRejectView.as_view(), name="transfer-reject"),
    path("transfers/<int:pk>/void/", views.TransferVoidView.as_view(), name="transfer-void"),
    path("transfers/<int:pk>/reverse/", views.TransferReverseView.as_view(), name="transfer-reverse"),
]
