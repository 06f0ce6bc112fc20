"""Staff views of journeys and webhooks.

Journeys and endpoints are editable; enrollments, stage entries and deliveries are
written by the consumer and the delivery worker, so they are read-only here. An
endpoint's URL is checked against the SSRF rules when saved here too, and its
signing secret is never shown.
"""

from django import forms
from django.contrib import admin

from analytics.admin import ENVIRONMENT_FILTER, ENVIRONMENT_PATH, ReadOnlyAdminMixin
from ascendkit_site.errors import ApplicationError

from . import network
from .models import Delivery, Enrollment, Journey, PendingEntry, Stage, StageEntry, Transition, WebhookEndpoint
from .services.webhooks import subscriptions_validate


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0
    fields = ["name"]


class TransitionInline(admin.TabularInline):
    model = Transition
    extra = 0
    fields = ["from_stage", "to_stage", "event_name"]
    fk_name = "journey"


@admin.register(Journey)
class JourneyAdmin(admin.ModelAdmin):
    list_display = ["name", "environment", "entry_stage", "entry_event", "condition", "enabled", "created_at"]
    list_filter = [ENVIRONMENT_FILTER, "enabled"]
    search_fields = ["name", "entry_event"]
    list_select_related = [ENVIRONMENT_PATH, "entry_stage"]
    inlines = [StageInline, TransitionInline]
    readonly_fields = ["environment", "entry_stage"]

    def has_add_permission(self, request):
        return False  # made with `manage.py journeys create`, which validates names and conditions


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["user", "journey", "current_stage", "entered_at", "stage_entered_at", "environment"]
    list_filter = [ENVIRONMENT_FILTER, "journey"]
    search_fields = ["=user__public_id", "user__email", "journey__name"]
    list_select_related = [ENVIRONMENT_PATH, "user", "journey", "current_stage"]


@admin.register(StageEntry)
class StageEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["entered_at", "journey", "from_stage", "stage", "event", "enrollment"]
    list_filter = [ENVIRONMENT_FILTER, "journey"]
    search_fields = ["=event__public_id", "=enrollment__user__public_id"]
    list_select_related = ["journey", "from_stage", "stage", "event", "enrollment__user", "enrollment__journey"]


@admin.register(PendingEntry)
class PendingEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["user", "journey", "event", "checked_at", "decide_by"]
    list_filter = [ENVIRONMENT_FILTER]
    list_select_related = ["user", "journey", "event"]


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2048, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "events", "description", "enabled"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            network.target_check(url)
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from None
        return url

    def clean_events(self):
        try:
            return subscriptions_validate(self.cleaned_data["events"] or [])
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from None


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["public_id", "url", "environment", "enabled", "failure_streak", "disabled_reason", "created_at"]
    list_filter = [ENVIRONMENT_FILTER, "enabled"]
    search_fields = ["=public_id", "url"]
    list_select_related = [ENVIRONMENT_PATH]
    readonly_fields = ["public_id", "environment", "secret_hint", "failure_streak", "failing_since", "disabled_at"]

    def has_add_permission(self, request):
        return False  # made with `manage.py webhooks add`, which shows the secret once


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "public_id",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "response_status",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = [ENVIRONMENT_FILTER, "status", "kind"]
    search_fields = ["=public_id", "event_type", "=endpoint__public_id"]
    list_select_related = ["endpoint"]
    exclude = ["event", "stage_entry"]
    date_hierarchy = "created_at"
