from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from apps.core.api.views import healthz

urlpatterns = [
    # The site's root (and the admin's "View site" link) is the staff home; the admin sends a
    # visitor who is not logged in to its login page first.
    path("", RedirectView.as_view(pattern_name="admin:index"), name="root"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("fhir/", include("apps.hospitals.api.fhir.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("apps.catalog.urls")),
    path("", include("apps.notices.dashboard_urls")),
    path("", include("apps.hospitals.urls")),
    path("", include("apps.pooling.urls")),
    path("", include("apps.reconciliation.urls")),
    path("", include("apps.core.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler404 = "apps.core.api.errors.page_not_found"
