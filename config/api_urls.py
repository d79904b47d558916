"""/api/v1/: each app contributes its own urls module."""

from django.urls import include, path

from apps.core.api.tokens import StaffTokenView
from apps.core.api.views import AuditEventListView, JobDetailView

urlpatterns = [
    path("auth/token/", StaffTokenView.as_view(), name="staff-token"),
    path("jobs/<int:pk>/", JobDetailView.as_view(), name="job-detail"),
    path("audit/events/", AuditEventListView.as_view(), name="audit-event-list"),
    path("", include("apps.catalog.api.urls")),
    path("", include("apps.notices.api.urls")),
    path("", include("apps.hospitals.api.urls")),
    path("", include("apps.pooling.api.urls")),
    path("", include("apps.benefits.api.urls")),
    path("", include("apps.reconciliation.api.urls")),
]
