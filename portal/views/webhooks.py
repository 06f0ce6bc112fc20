"""Webhook endpoints: their state, adding one (its secret shown once), the delivery log, tests and replays."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from ascendkit_site.errors import ApplicationError
from ascendkit_site.queue import enqueue_on_commit
from journeys.selectors import delivery_log, webhook_endpoint_list
from journeys.services.webhooks import (
    delivery_replay,
    webhook_endpoint_create,
    webhook_endpoint_set_enabled,
    webhook_endpoint_test,
)
from journeys.tasks import DELIVER_TASK

from ..access import environment_for_member, require_manager
from ..forms import WebhookEndpointForm
from ..selectors import delivery_of_endpoint_exists, webhook_endpoint_in_environment
from .common import environment_url, page_context

ENDPOINT_ERROR_FIELDS = {"invalid_events": "events", "invalid_url": "url", "webhook_target_refused": "url"}


def _webhooks_page(request, access, *, form, created=None, status=200):
    environment = access.environment
    endpoints = [
        {"endpoint": endpoint, "url": environment_url("webhook_detail", environment, endpoint.public_id)}
        for endpoint in webhook_endpoint_list(environment=environment)
    ]
    context = page_context(
        request,
        access,
        "webhooks",
        form=form,
        endpoints=endpoints,
        created=created,
        add_url=environment_url("webhook_add", environment),
    )
    return render(request, "portal/webhooks.html", context, status=status)


@login_required
def webhooks(request, org, project, environment):
    access = environment_for_member(request, org, project, environment)
    return _webhooks_page(request, access, form=WebhookEndpointForm())


@never_cache
@login_required
@require_POST
def webhook_add(request, org, project, environment):
    """Save an endpoint whose target is public; its signing secret is in this answer only."""
    access = environment_for_member(request, org, project, environment)
    require_manager(access)
    form = WebhookEndpointForm(data=request.POST)
    if not form.is_valid():
        return _webhooks_page(request, access, form=form, status=400)
    try:
        endpoint = webhook_endpoint_create(environment=access.environment, **form.cleaned_data)
    except ApplicationError as error:
        form.add_error(ENDPOINT_ERROR_FIELDS.get(error.code), error.message)
        return _webhooks_page(request, access, form=form, status=400)
    # Rendered, not redirected: the secret is readable in plain text only in this response.
    return _webhooks_page(request, access, form=WebhookEndpointForm(), created=endpoint)


def _endpoint_or_404(access, endpoint_id):
    endpoint = webhook_endpoint_in_environment(environment=access.environment, public_id=endpoint_id)
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    return endpoint


@login_required
def webhook_detail(request, org, project, environment, endpoint_id):
    """The endpoint's state and its delivery log, newest first."""
    access = environment_for_member(request, org, project, environment)
    endpoint = _endpoint_or_404(access, endpoint_id)
    env = access.environment
    deliveries = [
        {
            "delivery": delivery,
            "replay_url": environment_url("delivery_replay", env, endpoint.public_id, delivery.public_id),
        }
        for delivery in delivery_log(environment=env, endpoint=endpoint)
    ]
    context = page_context(
        request,
        access,
        "webhooks",
        endpoint=endpoint,
        deliveries=deliveries,
        test_url=environment_url("webhook_test", env, endpoint.public_id),
        enabled_url=environment_url("webhook_set_enabled", env, endpoint.public_id),
        list_url=environment_url("webhooks", env),
    )
    return render(request, "portal/webhook_detail.html", context)


def _back_to(access, endpoint):
    return redirect(environment_url("webhook_detail", access.environment, endpoint.public_id))


@login_required
@require_POST
def webhook_test(request, org, project, environment, endpoint_id):
    """Send a `webhook.test` message now, once; its outcome heads the delivery log."""
    access = environment_for_member(request, org, project, environment)
    endpoint = _endpoint_or_404(access, endpoint_id)
    require_manager(access)
    delivery = webhook_endpoint_test(environment=access.environment, public_id=endpoint.public_id)
    outcome = f"answered {delivery.response_status}" if delivery.response_status else (delivery.error or "no answer")
    messages.info(request, f"Test {delivery.public_id} sent: {delivery.status}, {outcome}.")
    return _back_to(access, endpoint)


@login_required
@require_POST
def webhook_enabled(request, org, project, environment, endpoint_id):
    """Enable (clearing the failure streak) or disable an endpoint."""
    access = environment_for_member(request, org, project, environment)
    endpoint = _endpoint_or_404(access, endpoint_id)
    require_manager(access)
    enabled = request.POST.get("enabled") == "on"
    webhook_endpoint_set_enabled(environment=access.environment, public_id=endpoint.public_id, enabled=enabled)
    messages.success(request, f"Endpoint {'enabled' if enabled else 'disabled'}.")
    return _back_to(access, endpoint)


@login_required
@require_POST
def delivery_replay_view(request, org, project, environment, endpoint_id, delivery_id):
    """Queue a delivery again now, with its webhook-id."""
    access = environment_for_member(request, org, project, environment)
    endpoint = _endpoint_or_404(access, endpoint_id)
    require_manager(access)
    if not delivery_of_endpoint_exists(environment=access.environment, endpoint=endpoint, public_id=delivery_id):
        raise Http404("No such delivery for this endpoint.")
    try:
        delivery = delivery_replay(environment=access.environment, public_id=delivery_id)
    except ApplicationError as error:  # the endpoint is disabled, or the delivery is being sent
        messages.error(request, error.message)
        return _back_to(access, endpoint)
    enqueue_on_commit(DELIVER_TASK, delivery.pk)
    messages.success(request, f"Delivery {delivery.public_id} queued again.")
    return _back_to(access, endpoint)
