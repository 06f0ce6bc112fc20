"""Forms of the portal: environment settings, and the ad-hoc funnel and flow questions."""

import zoneinfo
from functools import cache
from urllib.parse import urlsplit

from django import forms

MAX_ORIGINS = 50
FUNNEL_MIN_STEPS, FUNNEL_MAX_STEPS = 2, 8
FLOW_MIN_STEPS, FLOW_MAX_STEPS = 3, 5


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


def origin_clean(value: str) -> str:
    """`https://example.com[:port]`: what a browser sends as Origin, nothing more."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise forms.ValidationError(f"{value!r} is not an origin such as https://example.com.")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise forms.ValidationError(f"{value!r} has more than a scheme, host and port.")
    return f"{parts.scheme}://{parts.netloc.lower()}"


class EnvironmentSettingsForm(forms.Form):
    allowed_origins = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "https://example.com"}),
        help_text="One origin a line. Empty: any origin may send browser traffic.",
    )
    waitlist_enabled = forms.BooleanField(required=False, label="Waitlist: new signups wait for approval")
    anonymous_retention_days = forms.IntegerField(
        min_value=1,
        max_value=3650,
        label="Anonymous retention (days)",
        help_text="Never-linked visitors are deleted after this.",
    )
    session_timeout_minutes = forms.IntegerField(min_value=1, max_value=1440, label="Session timeout (minutes)")
    time_zone = forms.ChoiceField(choices=time_zone_choices, help_text="Days in reports start at midnight here.")

    def clean_allowed_origins(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["allowed_origins"].splitlines() if line.strip()]
        if len(lines) > MAX_ORIGINS:
            raise forms.ValidationError(f"At most {MAX_ORIGINS} origins.")
        origins = [origin_clean(line) for line in lines]
        return list(dict.fromkeys(origins))

    @classmethod
    def for_environment(cls, environment, data=None):
        initial = {
            "allowed_origins": "\n".join(environment.allowed_origins),
            "waitlist_enabled": environment.waitlist_enabled,
            "anonymous_retention_days": environment.anonymous_retention_days,
            "session_timeout_minutes": environment.session_timeout_minutes,
            "time_zone": environment.time_zone,
        }
        return cls(data=data, initial=initial)


class JourneyForm(forms.Form):
    """A new journey: where users enter it, on which event, and optionally only for some first touches."""

    name = forms.CharField(max_length=100)
    entry_stage = forms.CharField(max_length=100, label="Entry stage", initial="signed_up")
    entry_event = forms.CharField(max_length=205, label="Entry event", initial="user.created")
    condition = forms.CharField(
        max_length=240,
        required=False,
        label="First-touch condition",
        help_text="Optional, such as utm_campaign==spring or channel==Paid Search.",
    )


class TransitionForm(forms.Form):
    from_stage = forms.CharField(max_length=100, label="From stage")
    to_stage = forms.CharField(max_length=100, label="To stage", help_text="A new name makes a new stage.")
    event_name = forms.CharField(max_length=205, label="On event", help_text="app.<name> or a built-in user.… event.")


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(max_length=2048, label="URL", widget=forms.URLInput(attrs={"placeholder": "https://"}))
    events = forms.CharField(
        max_length=4000,
        initial="app.*, journey.stage_entered",
        help_text="Comma-separated: exact names, prefixes ending in * (app.*), or journey.stage_entered.",
    )
    description = forms.CharField(max_length=200, required=False)

    def clean_events(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data["events"].split(",") if name.strip()]
