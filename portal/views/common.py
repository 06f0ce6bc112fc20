"""What every environment page shares: its slugs, the section nav and the environment switcher."""

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse

from identity.selectors import environments_for_member

from ..querystring import report_params, with_params
from ..selectors import MemberEnvironment

SECTIONS = [
    ("dashboard", "Dashboard"),
    ("conversions", "Conversions"),
    ("flows", "Page flows"),
    ("funnels", "Funnels"),
    ("users", "Users"),
    ("journeys", "Journeys"),
    ("webhooks", "Webhooks"),
    ("settings", "Settings"),
]

REPORTS = {"dashboard", "conversions", "flows", "funnels"}


def environment_args(environment) -> list[str]:
    return [environment.project.organization.slug, environment.project.slug, environment.slug]


def environment_url(name: str, environment, *extra) -> str:
    return reverse(f"portal:{name}", args=[*environment_args(environment), *extra])


def page_context(request, access: MemberEnvironment, section: str, **extra) -> dict:
    """The flat context of an environment page: the environment, the nav, the switcher, then the page's own."""
    environment = access.environment
    switcher = [
        {
            "label": f"{other.project.organization.name} / {other.project.name} / {other.name}",
            "url": environment_url(section, other),
            "current": other.pk == environment.pk,
        }
        for other in environments_for_member(user=request.user)
    ]
    # Reports keep the period and filters when the member moves between them.
    carried = report_params(request.GET)
    nav = [
        {
            "label": label,
            "url": environment_url(name, environment) + (with_params(carried) if name in REPORTS and carried else ""),
            "current": name == section,
        }
        for name, label in SECTIONS
    ]
    return {
        "environment": environment,
        "organization": environment.project.organization,
        "project": environment.project,
        "can_manage": access.can_manage,
        "role": access.role,
        "section": section,
        "nav": nav,
        "switcher": switcher,
        **extra,
    }


def report_error(request, access: MemberEnvironment, section: str, error) -> HttpResponse:
    """A report asked with a bad period, date or filter: say which, keep the page's frame, answer 400."""
    context = page_context(
        request, access, section, error=error, reset_url=environment_url(section, access.environment)
    )
    return render(request, "portal/report_error.html", context, status=400)
