from django.urls import path

from . import views

app_name = "catalog"
urlpatterns = [
    path("catalog/releases/<str:label>/review/", views.release_review, name="release-review"),
    path("catalog/releases/<str:label>/diff.csv", views.release_diff_csv, name="release-diff-csv"),
    path("catalog/releases/<str:label>/<str:action>/", views.release_action, name="release-action"),
]
