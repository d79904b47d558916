from django.urls import path

from . import views

urlpatterns = [
    path("reconciliation/runs/", views.RunCreateView.as_view(), name="reconciliation-run-list"),
    path("reconciliation/runs/<int:pk>/", views.RunDetailView.as_view(), name="reconciliation-run-detail"),
    path(
        "reconciliation/runs/<int:pk>/discrepancies.csv", views.RunDiscrepanciesCsvView.as_view(), name="reconciliation-run-discrepancies"
    ),
    path("reconciliation/runs/<int:pk>/statement/", views.RunStatementView.as_view(), name="reconciliation-run-statement"),
    path("settlements/imports/", views.SettlementImportView.as_view(), name="settlement-import"),
]
