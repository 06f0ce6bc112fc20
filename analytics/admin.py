"""Staff views of collected traffic: read-only, so what the dashboards count is what arrived.

Superusers may still delete rows (spam, test traffic, an erasure request); deleting
cascades as the models say, e.g. a visitor takes its sessions, pageviews and events.
"""

from django.contrib import admin

from identity.admin import EnvironmentListFilter

from .models import Attribution, BotHit, CollectBatch, Event, OutboxEntry, Pageview, Session, Visitor

ENVIRONMENT_FILTER = ("environment", EnvironmentListFilter)
# Every environment's label is `org/project/env`: fetch those in the same query.
ENVIRONMENT_PATH = "environment__project__organization"


class ReadOnlyAdminMixin:
    """View only; delete for superusers.

    Rows are written by ingestion and stitching, which keep sessions, counters and
    attribution consistent with each other; an edit here would silently break that.
    """

    # Analytics tables are large: skip the second COUNT(*) over the whole table.
    show_full_result_count = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)


class LinkedToUserFilter(admin.SimpleListFilter):
    """Anonymous or linked to a user: the split that retention and stitching care about."""

    title = "linked to a user"
    parameter_name = "linked"

    def lookups(self, request, model_admin):
        return [("yes", "Linked"), ("no", "Anonymous")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(user__isnull=False)
        if self.value() == "no":
            return queryset.filter(user__isnull=True)
        return queryset


@admin.register(Visitor)
class VisitorAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["public_id", "environment", "user", "first_seen_at", "last_seen_at", "linked_at", "stitched_at"]
    list_filter = [ENVIRONMENT_FILTER, LinkedToUserFilter]
    search_fields = ["=public_id", "=user__public_id", "user__email"]
    list_select_related = [ENVIRONMENT_PATH, "user"]
    raw_id_fields = ["user"]
    date_hierarchy = "first_seen_at"


@admin.register(Session)
class SessionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "public_id",
        "environment",
        "visitor",
        "user",
        "started_at",
        "duration_seconds",
        "pageview_count",
        "is_bounce",
        "entry_path",
        "channel",
        "source",
        "device_type",
        "country",
    ]
    list_filter = [ENVIRONMENT_FILTER, "channel", "device_type", "country", "is_bounce", LinkedToUserFilter]
    search_fields = [
        "=public_id",
        "=visitor__public_id",
        "=user__public_id",
        "user__email",
        "entry_path",
        "exit_path",
        "source",
        "utm_campaign",
    ]
    list_select_related = [ENVIRONMENT_PATH, "visitor", "user"]
    raw_id_fields = ["visitor", "user"]
    date_hierarchy = "started_at"


@admin.register(Pageview)
class PageviewAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "timestamp",
        "hostname",
        "path",
        "title",
        "environment",
        "session",
        "visitor",
        "user",
        "channel",
        "device_type",
        "country",
    ]
    list_filter = [ENVIRONMENT_FILTER, "channel", "device_type", "country", "browser", LinkedToUserFilter]
    search_fields = [
        "path",
        "title",
        "=message_id",
        "=session__public_id",
        "=visitor__public_id",
        "=user__public_id",
        "user__email",
    ]
    list_select_related = [ENVIRONMENT_PATH, "session", "visitor", "user"]
    raw_id_fields = ["session", "visitor", "user"]
    date_hierarchy = "timestamp"


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["public_id", "name", "kind", "environment", "user", "visitor", "session", "timestamp", "path"]
    list_filter = [ENVIRONMENT_FILTER, "kind", LinkedToUserFilter]
    search_fields = [
        "=public_id",
        "name",
        "=message_id",
        "path",
        "=user__public_id",
        "user__email",
        "=visitor__public_id",
        "=session__public_id",
    ]
    list_select_related = [ENVIRONMENT_PATH, "user", "visitor", "session"]
    raw_id_fields = ["session", "visitor", "user"]
    date_hierarchy = "timestamp"


@admin.register(Attribution)
class AttributionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "kind",
        "channel",
        "source",
        "medium",
        "campaign",
        "landing_page",
        "environment",
        "visitor",
        "user",
        "at",
    ]
    list_filter = [ENVIRONMENT_FILTER, "kind", "channel"]
    search_fields = [
        "source",
        "campaign",
        "referring_domain",
        "landing_page",
        "=visitor__public_id",
        "=user__public_id",
        "user__email",
    ]
    list_select_related = [ENVIRONMENT_PATH, "visitor", "user"]
    raw_id_fields = ["visitor", "user", "session"]
    date_hierarchy = "at"


@admin.register(BotHit)
class BotHitAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["day", "environment", "count"]
    list_filter = [ENVIRONMENT_FILTER]
    search_fields = ["environment__env_key", "environment__name", "environment__project__name"]
    list_select_related = [ENVIRONMENT_PATH]
    date_hierarchy = "day"


class OutboxStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("pending", "Pending"), ("failing", "Pending, with errors"), ("dispatched", "Dispatched")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(dispatched_at__isnull=True)
        if self.value() == "failing":
            return queryset.filter(dispatched_at__isnull=True, attempts__gt=0)
        if self.value() == "dispatched":
            return queryset.filter(dispatched_at__isnull=False)
        return queryset


@admin.register(OutboxEntry)
class OutboxEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "event",
        "event_name",
        "environment",
        "created_at",
        "claimed_at",
        "dispatched_at",
        "attempts",
        "last_error",
    ]
    list_filter = [OutboxStateFilter, ENVIRONMENT_FILTER]
    search_fields = ["=event__public_id", "event__name", "last_error"]
    list_select_related = [ENVIRONMENT_PATH, "event"]
    raw_id_fields = ["event"]
    date_hierarchy = "created_at"

    @admin.display(description="Event name", ordering="event__name")
    def event_name(self, obj):
        return obj.event.name


@admin.register(CollectBatch)
class CollectBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Queued collect batches: normally gone within a second; a failed one stays with its error."""

    list_display = ["id", "environment", "visitor_public_id", "received_at", "attempts", "last_error"]
    list_filter = [ENVIRONMENT_FILTER, "attempts"]
    search_fields = ["=visitor_public_id", "last_error"]
    list_select_related = [ENVIRONMENT_PATH]
    date_hierarchy = "received_at"
