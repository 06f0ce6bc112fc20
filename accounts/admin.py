"""Staff views of end users, with waitlist approval through the flow that records its event."""

from django.contrib import admin, messages

from identity.admin import EnvironmentListFilter
from identity.models import EndUser

from .services import user_approve


@admin.register(EndUser)
class EndUserAdmin(admin.ModelAdmin):
    list_display = ["public_id", "email", "name", "status", "environment", "created_at", "approved_at", "last_login_at"]
    list_filter = [("environment", EnvironmentListFilter), "status"]
    search_fields = ["=public_id", "email", "name"]
    list_select_related = ["environment__project__organization"]
    date_hierarchy = "created_at"
    # The password hash never leaves the database.
    exclude = ["password"]
    # Status changes go through the approve action, which records `user.waitlist_approved`;
    # the environment is fixed because every row of the user belongs to it.
    readonly_fields = [
        "public_id",
        "environment",
        "status",
        "created_at",
        "approved_at",
        "last_login_at",
        "link_conflicts",
    ]
    actions = ["approve_waitlisted"]

    def has_add_permission(self, request):
        # End users sign up through the API, which records `user.created` and hashes
        # their password; a row made here would have neither.
        return False

    @admin.action(description="Approve selected waitlisted users", permissions=["change"])
    def approve_waitlisted(self, request, queryset):
        approved = 0
        for user in queryset.filter(status=EndUser.Status.WAITLISTED).order_by("pk"):
            user_approve(user=user)
            self.log_change(request, user, "Approved from the waitlist.")
            approved += 1
        skipped = queryset.count() - approved
        message = f"Approved {approved} waitlisted user{'s' if approved != 1 else ''}."
        if skipped:
            message += f" {skipped} {'was' if skipped == 1 else 'were'} not waitlisted and stayed as they were."
        self.message_user(request, message, messages.SUCCESS if approved else messages.WARNING)
