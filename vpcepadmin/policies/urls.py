from __future__ import annotations

from django.urls import path

from vpcepadmin.policies import views

app_name = "policies"
urlpatterns = [
    path("", views.policy_list, name="list"),
    path("<str:environment>/<str:rule>/", views.policy_change, name="change"),
]
