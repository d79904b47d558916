from django.urls import path

from . import views

urlpatterns = [
    path("claims/precheck/", views.PrecheckView.as_view(), name="claims-precheck"),
    path("benefits/simulate/", views.SimulationView.as_view(), name="benefits-simulate"),
]
