"""Staff accounts of a programme, for its admins: the list with roles and second-factor
state, inviting someone (a one-time setup link, shown once as text and QR code),
changing roles, deactivating and resetting the second factor (each asked first on a page
of its own). Writes go through ``administration.staff_services``, as the API's do."""

from __future__ import annotations

from typing import Any

import segno
from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from backend.accounts.models import Programme, User
from backend.administration import access, staff_services
from backend.cases import policy
from backend.cases.models import Case
from backend.inbox.labels import STAFF_ROLES, role_label
from backend.inbox.pages import staff_page, staff_user
from backend.problems import Problem

ROLE_CHOICES = list(STAFF_ROLES.items())


def _roles_field() -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=gettext_lazy("Roles"),
        choices=ROLE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": gettext_lazy("Choose at least one role.")},
    )


class InviteForm(forms.Form):
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=150)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=150)
    username = forms.RegexField(
        regex=r"^[\w.@+-]+\Z",
        label=gettext_lazy("Username"),
        max_length=150,
        help_text=gettext_lazy("Letters, digits and . @ + - _ only; it is what they log in with."),
        error_messages={"invalid": gettext_lazy("Use only letters, digits and . @ + - _ (no spaces).")},
    )
    roles = _roles_field()


class RolesForm(forms.Form):
    roles = _roles_field()


def _programme(request: HttpRequest, programme_id: int) -> Programme:
    return access.programme_for(
        staff_user(request), programme_id, policy.may_manage_staff, _("Only the programme's admins manage staff.")
    )


def _staff_list(programme: Programme) -> str:
    return reverse("programme-page-staff", args=[programme.pk])


def _setup_link_page(
    request: HttpRequest, programme: Programme, member: User, token: str, *, reset: bool
) -> HttpResponse:
    """The link is shown here once: only its hash is stored, so nobody can show it again."""
    url = request.build_absolute_uri(reverse("account-setup", args=[token]))
    context = {
        "programme": programme,
        "member": member,
        "url": url,
        "qr": segno.make(url, error="m").svg_inline(scale=4, title=_("QR code of the set-up link")),
        "reset": reset,
        "page": "programme",
    }
    response = render(request, "inbox/programme/staff_link.html", context)
    response["Cache-Control"] = "no-store"
    return response


def _rejected_invitation(form: InviteForm, problem: Problem) -> None:
    """A refusal of the service, next to the field it is about, in the reader's language."""
    wording = {
        "username-taken": _("That username is taken."),
        "already-staff": _("They already work in this programme."),
    }
    field = problem.field if problem.field in form.fields else "username"
    form.add_error(field, wording.get(problem.slug, str(problem.detail)))


@require_GET
@staff_page
def staff_view(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    rows = [{"member": m, "roles": [role_label(r) for r in m.roles]} for m in staff_services.staff_of(programme)]
    context = {"programme": programme, "rows": rows, "me": staff_user(request), "page": "programme"}
    return render(request, "inbox/programme/staff.html", context)


@require_http_methods(["GET", "POST"])
@staff_page
def invite_view(request: HttpRequest, programme_id: int) -> HttpResponse:
    programme = _programme(request, programme_id)
    form = InviteForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                invitation = staff_services.invite_staff(
                    programme=programme, actor=staff_user(request), **form.cleaned_data
                )
            except Problem as problem:
                _rejected_invitation(form, problem)
                status = problem.status_code
            else:
                if invitation.token is not None:
                    return _setup_link_page(request, programme, invitation.user, invitation.token, reset=False)
                name = invitation.user.get_full_name() or invitation.user.username
                messages.success(request, _("%(name)s already had an account and now works here too.") % {"name": name})
                return HttpResponseRedirect(_staff_list(programme))
    context = {"programme": programme, "form": form, "page": "programme"}
    return render(request, "inbox/programme/staff_invite.html", context, status=status)


def _member_context(request: HttpRequest, programme_id: int, user_id: int) -> dict[str, Any]:
    programme = _programme(request, programme_id)
    member = staff_services.member_of(programme, staff_services.programme_member(programme, user_id))
    return {"programme": programme, "member": member, "page": "programme"}


@require_http_methods(["GET", "POST"])
@staff_page
def roles_view(request: HttpRequest, programme_id: int, user_id: int) -> HttpResponse:
    context = _member_context(request, programme_id, user_id)
    programme, member = context["programme"], context["member"]
    form = RolesForm(request.POST if request.method == "POST" else None, initial={"roles": member.roles})
    if request.method == "POST" and form.is_valid():
        staff_services.set_roles(
            programme=programme, actor=staff_user(request), user_id=user_id, roles=form.cleaned_data["roles"]
        )
        name = member.user.get_full_name() or member.user.username
        messages.success(request, _("The roles of %(name)s are saved.") % {"name": name})
        return HttpResponseRedirect(_staff_list(programme))
    return render(
        request, "inbox/programme/staff_roles.html", {**context, "form": form}, status=400 if form.errors else 200
    )


@require_http_methods(["GET", "POST"])
@staff_page
def deactivate_view(request: HttpRequest, programme_id: int, user_id: int) -> HttpResponse:
    context = _member_context(request, programme_id, user_id)
    programme, member = context["programme"], context["member"]
    is_me = member.user.pk == staff_user(request).pk
    if request.method == "POST" and not is_me:
        result = staff_services.deactivate_staff(programme=programme, actor=staff_user(request), user_id=user_id)
        cases = Case.objects.filter(pk__in=result.cases_needing_primary).select_related("defector")
        aliases = sorted(case.defector.alias for case in cases)
        done = {**context, "result": result, "aliases": aliases}
        return render(request, "inbox/programme/staff_deactivated.html", done)
    status = 409 if request.method == "POST" else 200
    return render(request, "inbox/programme/staff_deactivate.html", {**context, "is_me": is_me}, status=status)


@require_http_methods(["GET", "POST"])
@staff_page
def reset_second_factor_view(request: HttpRequest, programme_id: int, user_id: int) -> HttpResponse:
    context = _member_context(request, programme_id, user_id)
    programme, member = context["programme"], context["member"]
    if request.method == "POST":
        token = staff_services.reset_second_factor(programme=programme, actor=staff_user(request), user_id=user_id)
        return _setup_link_page(request, programme, member.user, token, reset=True)
    return render(request, "inbox/programme/staff_reset_2fa.html", context)


urlpatterns = [
    path("", staff_view, name="programme-page-staff"),
    path("invite/", invite_view, name="programme-page-staff-invite"),
    path("<int:user_id>/roles/", roles_view, name="programme-page-staff-roles"),
    path("<int:user_id>/deactivate/", deactivate_view, name="programme-page-staff-deactivate"),
    path("<int:user_id>/reset-2fa/", reset_second_factor_view, name="programme-page-staff-reset-2fa"),
]
