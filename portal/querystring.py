"""Links that change one thing of the current report: its period, a filter, a tab.

The portal is readable without JavaScript, so every interaction is a plain link
whose query string says the whole state: `period`, `date`, `filters` and the
dashboard's tabs.
"""

from urllib.parse import urlencode

# The parameters that say which traffic a report reads; carried from page to page.
REPORT_PARAMS = ("period", "date", "filters")
FILTER_SEPARATOR = ";"
FILTER_OPERATOR = "=="


def report_params(params) -> dict[str, str]:
    """The period and filters of a request's query string, with the custom form's two dates joined."""
    kept = {name: params.get(name) for name in REPORT_PARAMS if params.get(name)}
    date_from, date_to = params.get("date_from"), params.get("date_to")
    if date_from and date_to and not kept.get("date"):
        # The custom range form sends two date inputs; the stats queries take `date=FROM,TO`.
        kept["period"] = "custom"
        kept["date"] = f"{date_from},{date_to}"
    if kept.get("period") != "custom":
        kept.pop("date", None)
    return kept


def with_params(params: dict[str, str], **changes) -> str:
    """`?…` for these params with some changed; a change to None removes the parameter."""
    merged = dict(params)
    for name, value in changes.items():
        if value is None or value == "":
            merged.pop(name, None)
        else:
            merged[name] = value
    # A list value is a repeated parameter (the funnel's `step`s).
    return "?" + urlencode(merged, doseq=True) if merged else "?"


def filters_split(filters: str) -> list[tuple[str, str]]:
    """`country==DE;channel==Direct` as [("country", "DE"), ("channel", "Direct")], for display."""
    pairs = []
    for part in (filters or "").split(FILTER_SEPARATOR):
        name, operator, value = part.partition(FILTER_OPERATOR)
        if operator:
            pairs.append((name.strip(), value))
    return pairs


def filters_join(pairs: list[tuple[str, str]]) -> str:
    return FILTER_SEPARATOR.join(f"{name}{FILTER_OPERATOR}{value}" for name, value in pairs)


def filter_added(filters: str, name: str, value: str) -> str:
    """The filters with `name==value`, replacing an earlier value of the same property (AND of two would be empty)."""
    pairs = [(n, v) for n, v in filters_split(filters) if n != name]
    return filters_join([*pairs, (name, value)])


def filter_removed(filters: str, name: str) -> str:
    return filters_join([(n, v) for n, v in filters_split(filters) if n != name])


def can_filter_on(value: str) -> bool:
    """A value the filter syntax can carry: the separator would split it, and spaces around it are trimmed."""
    return bool(value) and FILTER_SEPARATOR not in value and value == value.strip()
