from __future__ import annotations

from django.urls import path, register_converter

from vpcepadmin.endpoints import action_views, edit_views, views


class ServiceIdConverter:
    """Service ids are UUIDs; accept id-shaped text only, so nothing else reaches a cloud path."""

    regex = "[A-Za-z0-9][A-Za-z0-9-]{0,63}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ServiceIdConverter, "service_id")

app_name = "endpoints"
urlpatterns = [
    path("", views.service_list, name="list"),
    path("summary/", views.account_summary, name="summary"),
    path("observe/", views.observe, name="observe"),
    path("<service_id:service_id>/", views.service_detail, name="detail"),
    path("<service_id:service_id>/edit/", edit_views.service_edit, name="edit"),
    path("<service_id:service_id>/connections/", action_views.connections, name="connections"),
    path(
        "<service_id:service_id>/connections/confirm/",
        action_views.connections_confirm,
        name="connections_confirm",
    ),
    path("<service_id:service_id>/changes/<slug:batch_id>/", action_views.batch, name="batch"),
    path("<service_id:service_id>/whitelist/", action_views.whitelist_page, name="whitelist"),
    path(
        "<service_id:service_id>/whitelist/confirm/", action_views.whitelist_confirm, name="whitelist_confirm"
    ),
]
