from django.urls import path

from . import views

urlpatterns = [
    path("releases/", views.ReleaseListCreateView.as_view(), name="release-list"),
    path("releases/<str:label>/", views.ReleaseDetailView.as_view(), name="release-detail"),
    path("releases/<str:label>/submit/", views.ReleaseSubmitView.as_view(), name="release-submit"),
    path("releases/<str:label>/approve/", views.ReleaseApproveView.as_view(), name="release-approve"),
    path("releases/<str:label>/reject/", views.ReleaseRejectView.as_view(), name="release-reject"),
    path("releases/<str:label>/publish/", views.ReleasePublishView.as_view(), name="release-publish"),
    path("releases/<str:label>/items/", views.ReleaseItemListView.as_view(), name="release-items"),
    path("releases/<str:label>/items/<str:code>/", views.ReleaseItemDetailView.as_view(), name="release-item"),
    path("releases/<str:label>/diff/", views.ReleaseDiffView.as_view(), name="release-diff"),
    path("releases/<str:label>/imports/", views.ReleaseImportView.as_view(), name="release-imports"),
]
