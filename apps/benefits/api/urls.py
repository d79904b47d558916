from django.urls import path

from . import terminology_views, views

urlpatterns = [
    path("claims/precheck/", views.PrecheckView.as_view(), name="claims-precheck"),
    path("benefits/simulate/", views.SimulationView.as_view(), name="benefits-simulate"),
    path("benefits/policies/", views.PolicyListCreateView.as_view(), name="benefit-policy-list"),
    path("benefits/policies/<int:pk>/submit/", views.PolicySubmitView.as_view(), name="benefit-policy-submit"),
    path("benefits/policies/<int:pk>/approve/", views.PolicyApproveView.as_view(), name="benefit-policy-approve"),
    path("catalog/validate/", terminology_views.CodeValidateView.as_view(), name="catalog-validate"),
    path("catalog/local-items/", terminology_views.LocalItemListView.as_view(), name="catalog-local-items"),
]
