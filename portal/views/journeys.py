"""Journeys: each with its stages, users in each stage now, conversion between stages; and the editor."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ascendkit_site.errors import ApplicationError
from journeys.selectors import journey_list, journey_report
from journeys.services.definitions import journey_create, journey_set_enabled, journey_transition_add

from ..access import environment_for_member, require_manager
from ..forms import JourneyForm, TransitionForm
from ..presenters import bar_width
from ..selectors import journey_in_environment
from .common import environment_url, page_context

# Which form field an application error of the journey services belongs to.
JOURNEY_ERROR_FIELDS = {
    "invalid_journey_name": "name",
    "journey_exists": "name",
    "invalid_stage_name": "entry_stage",
    "invalid_event_name": "entry_event",
    "invalid_condition": "condition",
}
TRANSITION_ERROR_FIELDS = {"invalid_event_name": "event_name", "invalid_stage_name": "to_stage"}


def _stage_rows(report) -> list[dict]:
    """Stages with a bar of how many ever reached them, against the entry stage."""
    base = report.stages[0].reached if report.stages else 0
    return [{"stage": stage, "width": bar_width(stage.reached, base)} for stage in report.stages]


def _journey_rows(environment) -> list[dict]:
    rows = []
    for journey in journey_list(environment=environment):
        report = journey_report(journey=journey)
        rows.append(
            {
                "journey": journey,
                "url": environment_url("journey_detail", environment, journey.pk),
                "table_id": f"stages-{journey.pk}",
                "stages": _stage_rows(report),
                "transitions": report.transitions,
            }
        )
    return rows


def _journeys_page(request, access, *, form, status=200):
    environment = access.environment
    context = page_context(request, access, "journeys", form=form, journeys=_journey_rows(environment))
    return render(request, "portal/journeys.html", context, status=status)


def _error_to_form(form, error: ApplicationError, fields: dict) -> None:
    form.add_error(fields.get(error.code), error.message)


@login_required
def journeys(request, org, project, environment):
    """Every journey of the environment; owners and admins create one here."""
    access = environment_for_member(request, org, project, environment)
    if request.method != "POST":
        return _journeys_page(request, access, form=JourneyForm())
    require_manager(access)
    form = JourneyForm(data=request.POST)
    if not form.is_valid():
        return _journeys_page(request, access, form=form, status=400)
    try:
        journey = journey_create(environment=access.environment, **form.cleaned_data)
    except ApplicationError as error:
        _error_to_form(form, error, JOURNEY_ERROR_FIELDS)
        return _journeys_page(request, access, form=form, status=400)
    messages.success(request, f"Journey {journey.name} created; add its transitions below.")
    return redirect(environment_url("journey_detail", access.environment, journey.pk))


def _journey_or_404(access, journey_id):
    journey = journey_in_environment(environment=access.environment, journey_id=journey_id)
    if journey is None:
        raise Http404("No such journey.")
    return journey


def _journey_page(request, access, journey, *, form, status=200):
    environment = access.environment
    report = journey_report(journey=journey)
    stage_names = [stage.name for stage in report.stages]
    context = page_context(
        request,
        access,
        "journeys",
        journey=journey,
        stages=_stage_rows(report),
        transitions=report.transitions,
        stage_names=stage_names,
        form=form,
        transition_url=environment_url("journey_transition_add", environment, journey.pk),
        enabled_url=environment_url("journey_set_enabled", environment, journey.pk),
        list_url=environment_url("journeys", environment),
    )
    return render(request, "portal/journey_detail.html", context, status=status)


@login_required
def journey_detail(request, org, project, environment, journey_id):
    access = environment_for_member(request, org, project, environment)
    journey = _journey_or_404(access, journey_id)
    return _journey_page(request, access, journey, form=TransitionForm())


@login_required
@require_POST
def journey_transition(request, org, project, environment, journey_id):
    """Add `from → to` on an event, making either stage when it is new."""
    access = environment_for_member(request, org, project, environment)
    journey = _journey_or_404(access, journey_id)
    require_manager(access)
    form = TransitionForm(data=request.POST)
    if not form.is_valid():
        return _journey_page(request, access, journey, form=form, status=400)
    try:
        journey_transition_add(environment=access.environment, name=journey.name, **form.cleaned_data)
    except ApplicationError as error:
        _error_to_form(form, error, TRANSITION_ERROR_FIELDS)
        return _journey_page(request, access, journey, form=form, status=400)
    messages.success(request, "Transition saved.")
    return redirect(environment_url("journey_detail", access.environment, journey.pk))


@login_required
@require_POST
def journey_enabled(request, org, project, environment, journey_id):
    """Enable or disable: a disabled journey neither enters nor advances anyone."""
    access = environment_for_member(request, org, project, environment)
    journey = _journey_or_404(access, journey_id)
    require_manager(access)
    enabled = request.POST.get("enabled") == "on"
    journey_set_enabled(environment=access.environment, name=journey.name, enabled=enabled)
    messages.success(request, f"Journey {journey.name} {'enabled' if enabled else 'disabled'}.")
    return redirect(environment_url("journey_detail", access.environment, journey.pk))
