"""Hospital-facing URLs under /api/v1/ (catalog reads, the caller's own keys)."""

from django.urls import path

from . import catalog_views, key_views, mapping_views

urlpatterns = [
    path("catalog/releases/", catalog_views.PublishedReleaseListView.as_view(), name="hospital-catalog-releases"),
    path("catalog/releases/<str:label>/", catalog_views.ReleaseManifestView.as_view(), name="hospital-catalog-release"),
    path("catalog/releases/<str:label>/items/", catalog_views.ReleaseItemsView.as_view(), name="hospital-catalog-items"),
    path("catalog/releases/<str:label>/export.csv.gz", catalog_views.ExportCsvView.as_view(), name="hospital-catalog-export-csv"),
    path("catalog/releases/<str:label>/export.jsonl.gz", catalog_views.ExportJsonlView.as_view(), name="hospital-catalog-export-jsonl"),
    path("catalog/releases/<str:label>/diff/", catalog_views.ReleaseDiffView.as_view(), name="hospital-catalog-diff"),
    path("catalog/items/<str:code>/", catalog_views.ItemLookupView.as_view(), name="hospital-catalog-item"),
    path("hospital/", key_views.HospitalMeView.as_view(), name="hospital-me"),
    path("hospital/keys/", key_views.OwnKeyListView.as_view(), name="hospital-keys"),
    path("hospital/mappings/", mapping_views.MappingView.as_view(), name="hospital-mappings"),
    path("hospital/keys/<str:prefix>/", key_views.OwnKeyDetailView.as_view(), name="hospital-key"),
    path("hospital/keys/<str:prefix>/revoke/", key_views.OwnKeyRevokeView.as_view(), name="hospital-key-revoke"),
]
