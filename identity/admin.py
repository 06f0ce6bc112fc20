"""Staff views of tenancy and end users.

Secrets never reach a page, a cookie or the session store: the admin shows the
secret key's short hint and never a hash; a new secret key is shown once, in the
response that made it, on a page that is not cached.
"""

from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from .models import Environment, Membership, Organization, Project, UserToken
from .selectors import clear_environment_cache
from .services import environment_rotate_secret_key

SECRET_KEYS_TEMPLATE = "admin/identity/environment/secret_keys.html"
ROTATE_CONFIRMATION_TEMPLATE = "admin/identity/environment/rotate_confirmation.html"


class EnvironmentListFilter(admin.RelatedFieldListFilter):
    """The environment filter, labelled `org/project/env` in one query instead of one per row."""

    def field_choices(self, field, request, model_admin):
        environments = Environment.objects.select_related("project__organization").order_by(
            "project__organization__slug", "project__slug", "slug"
        )
        return [(environment.pk, str(environment)) for environment in environments]


# --- Organizations, members, projects --------------------------------------------------


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    date_hierarchy = "created_at"
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role", "organization"]
    search_fields = ["user__email", "user__username", "organization__name", "organization__slug"]
    list_select_related = ["user", "organization"]
    autocomplete_fields = ["organization", "user"]
    date_hierarchy = "created_at"


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "organization", "created_at"]
    list_filter = ["organization"]
    search_fields = ["name", "slug", "organization__name", "organization__slug"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization"]
    prepopulated_fields = {"slug": ["name"]}
    date_hierarchy = "created_at"


# --- Environments and their keys --------------------------------------------------------


class EnvironmentAdminForm(forms.ModelForm):
    class Meta:
        model = Environment
        fields = [
            "project",
            "name",
            "slug",
            "allowed_origins",
            "waitlist_enabled",
            "anonymous_retention_days",
            "session_timeout_minutes",
            "time_zone",
        ]

    def clean_allowed_origins(self):
        origins = self.cleaned_data["allowed_origins"] or []
        if not isinstance(origins, list) or not all(isinstance(origin, str) for origin in origins):
            raise forms.ValidationError('A JSON list of origins, e.g. ["https://www.example.com"].')
        cleaned = []
        for origin in origins:
            parts = urlsplit(origin.strip().rstrip("/"))
            # Browsers send an origin as scheme://host[:port]; anything longer never matches.
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
                raise forms.ValidationError(f"{origin!r} is not an origin such as https://www.example.com.")
            cleaned.append(f"{parts.scheme}://{parts.netloc}")
        return cleaned

    def clean_time_zone(self):
        name = self.cleaned_data["time_zone"]
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise forms.ValidationError(f"{name!r} is not an IANA time zone such as Europe/Berlin.") from error
        return name

    def clean_anonymous_retention_days(self):
        days = self.cleaned_data["anonymous_retention_days"]
        if days < 1:
            # Zero would let the daily purge delete every anonymous visitor as it arrives.
            raise forms.ValidationError("Keep anonymous visitors for at least one day.")
        return days

    def clean_session_timeout_minutes(self):
        minutes = self.cleaned_data["session_timeout_minutes"]
        if minutes < 1:
            raise forms.ValidationError("A session needs a timeout of at least one minute.")
        return minutes


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    form = EnvironmentAdminForm
    list_display = [
        "__str__",
        "name",
        "env_key",
        "secret_key_hint_display",
        "secret_key_rotated_at",
        "waitlist_enabled",
        "anonymous_retention_days",
        "time_zone",
        "created_at",
    ]
    list_filter = ["waitlist_enabled", "project__organization", "time_zone"]
    search_fields = ["name", "slug", "env_key", "project__name", "project__slug", "project__organization__name"]
    list_select_related = ["project__organization"]
    autocomplete_fields = ["project"]
    prepopulated_fields = {"slug": ["name"]}
    date_hierarchy = "created_at"
    exclude = ["secret_key_hash"]
    actions = ["rotate_secret_key"]

    @admin.display(description="Secret key", ordering="secret_key_hint")
    def secret_key_hint_display(self, obj):
        # The hint is the key's first characters, enough to tell keys apart, never to use one.
        return f"{obj.secret_key_hint}…" if obj.secret_key_hint else "—"

    def get_fields(self, request, obj=None):
        fields = list(EnvironmentAdminForm.Meta.fields)
        if obj is not None:
            fields[3:3] = ["env_key", "secret_key_hint_display", "secret_key_rotated_at", "created_at"]
        return fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # Moving an environment to another project could hand its data to another
        # organization's members, so the project is fixed once made; so is the slug,
        # which scripts use to name the environment.
        return ["project", "slug", "env_key", "secret_key_hint_display", "secret_key_rotated_at", "created_at"]

    def get_prepopulated_fields(self, request, obj=None):
        return self.prepopulated_fields if obj is None else {}

    def save_model(self, request, obj, form, change):
        if not change:
            # The model requires a key hash; the key itself is shown once by response_add.
            obj._new_secret_key = obj.set_secret_key()
        super().save_model(request, obj, form, change)
        # Settings are cached per process for a few seconds; drop this process's copy now.
        clear_environment_cache()

    def response_add(self, request, obj, post_url_continue=None):
        secret_key = getattr(obj, "_new_secret_key", None)
        if secret_key is None:
            return super().response_add(request, obj, post_url_continue)
        # Shown instead of the usual redirect (also in a popup): a redirect would have
        # to carry the key through the session or a cookie.
        return self._secret_keys_response(request, [(obj, secret_key)], title="Environment created")

    @admin.action(description="Rotate secret key (the old key stops working at once)", permissions=["change"])
    def rotate_secret_key(self, request, queryset):
        environments = list(queryset.select_related("project__organization").order_by("pk"))
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Rotate secret keys?",
                "opts": self.opts,
                "environments": environments,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, ROTATE_CONFIRMATION_TEMPLATE, context)
        rotated = []
        # All or none: a half-done batch would leave keys rotated that no page showed.
        with transaction.atomic():
            for environment in environments:
                secret_key = environment_rotate_secret_key(environment=environment)
                self.log_change(request, environment, "Rotated the secret key.")
                rotated.append((environment, secret_key))
        return self._secret_keys_response(request, rotated, title="New secret keys")

    def _secret_keys_response(self, request, rotated, *, title):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "rows": [{"environment": environment, "secret_key": secret} for environment, secret in rotated],
            "changelist_url": reverse("admin:identity_environment_changelist", current_app=self.admin_site.name),
        }
        response = TemplateResponse(request, SECRET_KEYS_TEMPLATE, context)
        # Neither the browser nor a proxy may keep a copy of the only showing of a secret.
        add_never_cache_headers(response)
        response["Referrer-Policy"] = "no-referrer"
        return response


# --- End users and their tokens --------------------------------------------------------


class TokenStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("live", "Live"), ("expired", "Expired"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "live":
            return queryset.filter(revoked_at__isnull=True, expires_at__gt=now)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(UserToken)
class UserTokenAdmin(admin.ModelAdmin):
    list_display = ["pk", "user", "user_email", "environment", "created_at", "expires_at", "revoked_at", "is_live"]
    list_filter = [TokenStateFilter, ("environment", EnvironmentListFilter)]
    search_fields = ["=user__public_id", "user__email"]
    list_select_related = ["user", "environment__project__organization"]
    date_hierarchy = "created_at"
    # Only the hash is stored, and it is not shown either.
    fields = ["user", "environment", "created_at", "expires_at", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]

    @admin.display(description="Email", ordering="user__email")
    def user_email(self, obj):
        return obj.user.email

    @admin.display(boolean=True, description="Live")
    def is_live(self, obj):
        return obj.is_valid

    def has_add_permission(self, request):
        # A token made here would have no raw value for anyone to use.
        return False

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        revoked = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {revoked} token{'s' if revoked != 1 else ''}.", messages.SUCCESS)
