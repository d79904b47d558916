from django.urls import path

from . import provincial, views

urlpatterns = [
    path("accounts/", views.AccountListView.as_view(), name="account-list"),
    path("accounts/<int:pk>/", views.AccountDetailView.as_view(), name="account-detail"),
    path("accounts/<int:pk>/entries/", views.AccountEntriesView.as_view(), name="account-entries"),
    path("accounts/<int:pk>/statement/", views.AccountStatementView.as_view(), name="account-statement"),
    path("transfers/", views.TransferListCreateView.as_view(), name="transfer-list"),
    path("transfers/<int:pk>/", views.TransferDetailView.as_view(), name="transfer-detail"),
    path("transfers/<int:pk>/approve/", views.TransferApproveView.as_view(), name="transfer-approve"),
    path("transfers/<int:pk>/reject/", views.TransferRejectView.as_view(), name="transfer-reject"),
    path("transfers/<int:pk>/void/", views.TransferVoidView.as_view(), name="transfer-void"),
    path("transfers/<int:pk>/reverse/", views.TransferReverseView.as_view(), name="transfer-reverse"),
    # provincial pooling (issue 19)
    path("pooling/figures/", provincial.FiguresListView.as_view(), name="pooling-figures-list"),
    path("pooling/figures/imports/", provincial.FiguresImportView.as_view(), name="pooling-figures-import"),
    path("pooling/adjustment-runs/", provincial.AdjustmentRunListView.as_view(), name="pooling-adjustment-run-list"),
    path("pooling/adjustment-runs/<int:pk>/", provincial.AdjustmentRunDetailView.as_view(), name="pooling-adjustment-run-detail"),
    path("pooling/advances/", provincial.AdvanceListView.as_view(), name="pooling-advance-list"),
    path("pooling/budgets/", provincial.BudgetListView.as_view(), name="pooling-budget-list"),
    path("pooling/budgets/<int:pk>/", provincial.BudgetDetailView.as_view(), name="pooling-budget-detail"),
    path("pooling/unifications/", provincial.UnificationCreateView.as_view(), name="pooling-unification-list"),
    path("pooling/unifications/<int:pk>/", provincial.UnificationDetailView.as_view(), name="pooling-unification-detail"),
    path("pooling/unifications/<int:pk>/complete/", provincial.UnificationCompleteView.as_view(), name="pooling-unification-complete"),
]
