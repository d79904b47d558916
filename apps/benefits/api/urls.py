from django.urls import path

from . import views

urlpatterns = [
    path("claims/precheck/", views.PrecheckView.as_view(), name="claims-precheck"),
    path("benefits/simulate/", views.SimulationView.as_view(), name="benefits-simulate"),
    path("benefits/policies/", views.PolicyListCreateView.as_view(), name="benefit-policy-list"),
    path("benefits/policies/<int:pk>/submit/", views.PolicySubmitView.as_view(), name="benefit-policy-submit"),
    path("benefits/policies/<int:pk>/approve/", views.PolicyApproveView.as_view(), name="benefit-policy-approve"),
]
