from django.urls import path

from . import pages

app_name = "hospitals"
urlpatterns = [
    path("hospitals/mappings/", pages.mapping_issues, name="mapping-issues"),
    path("hospitals/mappings/<str:code>/", pages.hospital_mapping_issues, name="hospital-mapping-issues"),
]
