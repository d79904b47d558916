from django.urls import path

from . import views

app_name = "staff"
urlpatterns = [
    path("staff/", views.staff_home, name="home"),
    path("staff/jobs/<int:pk>/", views.job_progress, name="job"),
]
