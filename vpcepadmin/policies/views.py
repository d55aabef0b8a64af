"""``/policies/``: the rules in force, for everyone signed in; admins change them (thin views over
``policies.rules`` and ``policies.services``)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from vpcepadmin import roles
from vpcepadmin.audit.recorder import context_from
from vpcepadmin.credentials.models import Environment
from vpcepadmin.mfa.stepup import step_up_required
from vpcepadmin.policies import rules, services
from vpcepadmin.policies.declared import DECLARED
from vpcepadmin.policies.forms import PolicyRuleForm

# Changing a guardrail is an admin's decision, like an account's "needs a second person's approval"
# setting: the same permission, and the same recent second-factor check as changing an account.
CHANGE_POLICIES = roles.CHANGE_ACCOUNT
STEP_UP = step_up_required(why="Changing a policy")


@dataclass(frozen=True)
class Row:
    """One rule on the page, with its form for an admin (None for everyone else)."""

    item: rules.RuleInForce
    form: PolicyRuleForm | None


def _page(request: HttpRequest, bound: PolicyRuleForm | None = None, status: int = 200) -> HttpResponse:
    editable = request.user.has_perm(CHANGE_POLICIES)

    def row(item: rules.RuleInForce) -> Row:
        if not editable:
            return Row(item, None)
        mine = bound is not None and bound.prefix == PolicyRuleForm.prefix_for(item.environment, item.rule)
        setting = item.setting
        return Row(item, bound if mine else PolicyRuleForm.showing(*setting.key, setting.mode, setting.value))

    groups = [(group, [row(item) for item in group.rules]) for group in rules.rules_in_force()]
    return render(request, "policies/list.html", {"groups": groups, "editable": editable}, status=status)


@require_GET
def policy_list(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require_POST
@permission_required(CHANGE_POLICIES, raise_exception=True)
@STEP_UP
def policy_change(request: HttpRequest, environment: str, rule: str) -> HttpResponse:
    if environment not in Environment.values or rule not in DECLARED:
        raise Http404("No such rule.")
    form = PolicyRuleForm(environment, rule, request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    cleaned = form.cleaned_data
    changed = services.change_rule(
        environment, rule, cleaned["mode"], cleaned["value"], context_from(request)
    )
    title, where = DECLARED[rule].title_with(cleaned["value"]), Environment(environment).label
    if changed is None:
        messages.info(request, f"“{title}” on {where}: nothing changed, so nothing was saved.")
    else:
        messages.success(request, f"“{title}” on {where} saved. The change is in the audit log.")
    return redirect("policies:list")
