from django.urls import path

from . import views

app_name = "reconciliation"
urlpatterns = [
    path("reconciliation/runs/<int:pk>/", views.run_report, name="run-report"),
    path("reconciliation/compliance/", views.compliance, name="compliance"),
    path("reconciliation/runs/<int:pk>/pairs/<str:home>/<str:destination>/", views.pair_report, name="pair-report"),
]
