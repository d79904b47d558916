"""/fhir/: the FHIR R4 terminology facade (read-only)."""

from django.urls import path

from . import views

urlpatterns = [
    path("metadata", views.MetadataView.as_view(), name="fhir-metadata"),
    path("CodeSystem", views.CodeSystemSearchView.as_view(), name="fhir-codesystem-search"),
    path("CodeSystem/$lookup", views.LookupView.as_view(), name="fhir-codesystem-lookup"),
    path("CodeSystem/$validate-code", views.ValidateCodeView.as_view(), name="fhir-codesystem-validate-code"),
    path("CodeSystem/<str:resource_id>", views.CodeSystemReadView.as_view(), name="fhir-codesystem-read"),
    path("ConceptMap/$translate", views.TranslateView.as_view(), name="fhir-conceptmap-translate"),
]
