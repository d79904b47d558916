from django.urls import path

from . import views

app_name = "pooling"
urlpatterns = [
    path("staff/statements/", views.statements, name="statements"),
    path("staff/accounts/<int:pk>/statement/", views.account_statement, name="account-statement"),
]
