from django.urls import path

from . import dashboard

app_name = "hospitals"
urlpatterns = [path("hospitals/adoption/", dashboard.adoption, name="adoption")]
