from django.urls import path

from . import terminology_views, views

urlpatterns = [
    path("claims/precheck/", views.PrecheckView.as_view(), name="claims-precheck"),
    path("benefits/simulate/", views.SimulationView.as_view(), name="benefits-simulate"),
    path("catalog/validate/", terminology_views.CodeValidateView.as_view(), name="catalog-validate"),
    path("catalog/local-items/", terminology_views.LocalItemListView.as_view(), name="catalog-local-items"),
]
