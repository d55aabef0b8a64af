"""Pages for stored cloud accounts: thin views over ``credentials.services``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from vpcepadmin import roles
from vpcepadmin.audit.recorder import context_from
from vpcepadmin.credentials import services
from vpcepadmin.credentials.forms import CloudCredentialForm
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.mfa.stepup import step_up_required

# Fields of the account form that error reports never show (the access key ID is shown masked only).
SECRET_FIELDS = ("secret_key", "password", "access_key")
# Adding, changing and deleting a stored account needs a recent second-factor check (README).
STEP_UP = step_up_required(why="Changing a stored account")


@require_GET
@permission_required(roles.VIEW, raise_exception=True)
def credential_list(request: HttpRequest) -> HttpResponse:
    credentials = CloudCredential.objects.all()
    return render(request, "credentials/list.html", {"credentials": credentials})


@require_GET
@permission_required(roles.VIEW, raise_exception=True)
def credential_detail(request: HttpRequest, pk: int) -> HttpResponse:
    credential = get_object_or_404(CloudCredential, pk=pk)
    return render(request, "credentials/detail.html", {"credential": credential, "account": credential})


@sensitive_post_parameters(*SECRET_FIELDS)
@require_http_methods(["GET", "POST"])
@permission_required(roles.ADD_ACCOUNT, raise_exception=True)
@STEP_UP
def credential_create(request: HttpRequest) -> HttpResponse:
    form = CloudCredentialForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        credential = services.create_credential(
            form.save(commit=False), form.new_secret, context_from(request)
        )
        messages.success(request, f"Account “{credential.name}” saved. Test the connection to check it.")
        return redirect("credentials:detail", pk=credential.pk)
    return render(request, "credentials/form.html", {"form": form})


@sensitive_post_parameters(*SECRET_FIELDS)
@require_http_methods(["GET", "POST"])
@permission_required(roles.CHANGE_ACCOUNT, raise_exception=True)
@STEP_UP
def credential_edit(request: HttpRequest, pk: int) -> HttpResponse:
    credential = get_object_or_404(CloudCredential, pk=pk)
    before = services.snapshot(credential)
    form = CloudCredentialForm(request.POST or None, instance=credential)
    if request.method == "POST" and form.is_valid():
        services.update_credential(
            form.save(commit=False), before, form.new_secret, form.identity_changed, context_from(request)
        )
        messages.success(request, f"Account “{credential.name}” updated.")
        return redirect("credentials:detail", pk=credential.pk)
    return render(
        request, "credentials/form.html", {"form": form, "credential": credential, "account": credential}
    )


@require_http_methods(["GET", "POST"])
@permission_required(roles.DELETE_ACCOUNT, raise_exception=True)
@STEP_UP
def credential_delete(request: HttpRequest, pk: int) -> HttpResponse:
    credential = get_object_or_404(CloudCredential, pk=pk)
    if request.method == "POST":
        services.delete_credential(credential, context_from(request))
        messages.success(request, f"Account “{credential.name}” deleted. Its audit history is kept.")
        return redirect("credentials:list")
    return render(request, "credentials/delete.html", {"credential": credential, "account": credential})


@require_POST
@permission_required(roles.CHANGE_ACCOUNT, raise_exception=True)
def credential_test(request: HttpRequest, pk: int) -> HttpResponse:
    credential = get_object_or_404(CloudCredential, pk=pk)
    result = services.test_connection(credential)
    credential.refresh_from_db()
    context = {"credential": credential, "account": credential, "result": result}
    if getattr(request, "htmx", False):
        return render(request, "credentials/_test_result.html", context)
    (messages.success if result.ok else messages.error)(request, result.message)
    return redirect("credentials:detail", pk=credential.pk)
