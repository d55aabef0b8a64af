"""Root URLconf; the URLs are stable (design.md §8)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from vpcepadmin import lockout_views, views
from vpcepadmin.endpoints import pending_views
from vpcepadmin.endpoints import views as endpoint_views
from vpcepadmin.notify import views as notify_views

urlpatterns = [
    path("", endpoint_views.overview, name="overview"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="registration/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/mfa/", include("vpcepadmin.mfa.urls")),
    path("credentials/", include("vpcepadmin.credentials.urls")),
    path("credentials/<int:pk>/services/", include("vpcepadmin.endpoints.urls")),
    path("connections/pending/", pending_views.pending_list, name="pending"),
    path("connections/pending/<int:pk>/", pending_views.pending_account, name="pending_account"),
    path("approvals/", include("vpcepadmin.endpoints.approval_urls")),
    path("audit/", include("vpcepadmin.audit.urls")),
    path("policies/", include("vpcepadmin.policies.urls")),
    path("lockouts/", lockout_views.lockout_list, name="lockouts"),
    path("lockouts/unlock/", lockout_views.lockout_unlock, name="lockouts_unlock"),
    path("notifications/", notify_views.notification_list, name="notifications"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]

# A database that does not answer gets a plain 503 page instead of the 500 page (vpcepadmin.views).
handler500 = "vpcepadmin.views.server_error"
