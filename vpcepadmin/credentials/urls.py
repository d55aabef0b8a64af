from __future__ import annotations

from django.urls import path

from vpcepadmin.credentials import views

app_name = "credentials"
urlpatterns = [
    path("", views.credential_list, name="list"),
    path("new/", views.credential_create, name="create"),
    path("<int:pk>/", views.credential_detail, name="detail"),
    path("<int:pk>/edit/", views.credential_edit, name="edit"),
    path("<int:pk>/delete/", views.credential_delete, name="delete"),
    path("<int:pk>/test/", views.credential_test, name="test"),
]
