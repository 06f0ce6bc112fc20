"""The optional first-touch condition of a journey: `field==value`.

The field names are the ones the stats filters use for sessions (`utm_campaign`,
`channel`, `source`, …); each is read from the user's first-touch attribution.
`utm_source` and `utm_medium` compare with the touch's source and medium, which are
the UTM values whenever the landing URL carried them. Values compare without regard
to case, so `utm_campaign==Spring` matches a link tagged `spring`.
"""

from dataclasses import dataclass

from analytics.models import Attribution
from ascendkit_site.errors import ApplicationError

from .models import Journey

F = Journey.ConditionField
FIELD_ALIASES = {
    "channel": F.CHANNEL,
    "source": F.SOURCE,
    "utm_source": F.SOURCE,
    "medium": F.MEDIUM,
    "utm_medium": F.MEDIUM,
    "campaign": F.CAMPAIGN,
    "utm_campaign": F.CAMPAIGN,
    "term": F.TERM,
    "utm_term": F.TERM,
    "content": F.CONTENT,
    "utm_content": F.CONTENT,
    "referring_domain": F.REFERRING_DOMAIN,
    "landing_page": F.LANDING_PAGE,
}


@dataclass(frozen=True)
class Condition:
    field: str  # a Journey.ConditionField
    value: str


def condition_parse(text: str) -> Condition:
    """`utm_campaign==spring` → Condition(campaign, spring); raises ApplicationError when malformed."""
    name, separator, value = text.partition("==")
    name, value = name.strip().lower(), value.strip()
    if not separator or not value:
        raise ApplicationError("invalid_condition", f"The condition {text!r} is not of the form field==value.")
    if name not in FIELD_ALIASES:
        known = ", ".join(sorted(FIELD_ALIASES))
        raise ApplicationError("invalid_condition", f"The condition field {name!r} is unknown; use one of {known}.")
    if len(value) > 200:
        raise ApplicationError("invalid_condition", "The condition value is longer than 200 characters.")
    return Condition(field=FIELD_ALIASES[name], value=value)


def condition_holds(journey: Journey, first_touch: Attribution | None) -> bool:
    """Whether a user with this first touch may enter; always true without a condition."""
    if not journey.condition_field:
        return True
    if first_touch is None:
        return False
    actual = getattr(first_touch, journey.condition_field) or ""
    return actual.casefold() == journey.condition_value.casefold()
