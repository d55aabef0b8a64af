from __future__ import annotations

from django.urls import path

from vpcepadmin.endpoints import approval_views

app_name = "approvals"
urlpatterns = [
    path("", approval_views.approval_list, name="list"),
    path("<int:pk>/", approval_views.approval_detail, name="detail"),
    path("<int:pk>/decide/", approval_views.approval_decide, name="decide"),
]
