from django.urls import path

from . import views

app_name = "staff"
urlpatterns = [
    path("staff/", views.staff_home, name="home"),
    path("staff/jobs/<int:pk>/", views.job_progress, name="job"),
    path("staff/jobs/<int:pk>/outcome/", views.job_outcome, name="job-outcome"),
    path("staff/jobs/<int:pk>/errors.csv", views.job_errors_csv, name="job-errors-csv"),
]
