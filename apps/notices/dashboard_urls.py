from django.urls import path

from . import dashboard

app_name = "notices"
# The path predates the notices app; bookmarks keep working.
urlpatterns = [path("hospitals/adoption/", dashboard.adoption, name="adoption")]
