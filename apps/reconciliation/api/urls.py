from django.urls import path

from . import views

urlpatterns = [
    path("reconciliation/runs/", views.RunCreateView.as_view(), name="reconciliation-run-list"),
    path("reconciliation/runs/<int:pk>/", views.RunDetailView.as_view(), name="reconciliation-run-detail"),
    path(
        "reconciliation/runs/<int:pk>/discrepancies.csv", views.RunDiscrepanciesCsvView.as_view(), name="reconciliation-run-discrepancies"
    ),
    path("settlements/imports/", views.SettlementImportView.as_view(), name="settlement-import"),
    path("settlements/batches/", views.BatchListView.as_view(), name="settlement-batch-list"),
    path("settlements/batches/<int:pk>/withdraw/", views.BatchWithdrawView.as_view(), name="settlement-batch-withdraw"),
    path("reconciliation/runs/<int:pk>/discrepancies/", views.RunDiscrepancyListView.as_view(), name="reconciliation-run-discrepancy-list"),
    path("discrepancies/<int:pk>/dispute/", views.DiscrepancyDisputeView.as_view(), name="discrepancy-dispute"),
    path("discrepancies/<int:pk>/resolve/", views.DiscrepancyResolveView.as_view(), name="discrepancy-resolve"),
    path("discrepancies/<int:pk>/approve/", views.DiscrepancyApproveView.as_view(), name="discrepancy-approve"),
    path("reconciliation/compliance/", views.ComplianceView.as_view(), name="reconciliation-compliance"),
    path("reconciliation/compliance.csv", views.ComplianceCsvView.as_view(), name="reconciliation-compliance-csv"),
]
