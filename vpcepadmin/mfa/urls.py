from __future__ import annotations

from django.urls import path

from vpcepadmin.mfa import views

app_name = "mfa"
urlpatterns = [
    path("enrol/", views.enrol, name="enrol"),
    path("verify/", views.verify, name="verify"),
    path("step-up/", views.step_up, name="step_up"),
    path("reset/<int:pk>/", views.reset, name="reset"),
]
