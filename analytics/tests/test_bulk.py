"""Instances made without Model.__init__ behave as the ones it makes."""

import pytest
from django.utils import timezone

from analytics.models import Session, Visitor
from analytics.services.bulk import instance_new


def test_a_new_instance_has_the_fields_defaults_and_the_values_given():
    now = timezone.now()
    visitor = Visitor(environment_id=1, public_id="vis_0123456789abcdef")

    made = instance_new(
        Session, cached={"visitor": visitor}, visitor_id=None, started_at=now, last_activity_at=now, public_id="s"
    )
    usual = Session(started_at=now, last_activity_at=now, public_id="s")

    fields = [field.attname for field in Session._meta.concrete_fields]
    assert [getattr(made, name) for name in fields] == [getattr(usual, name) for name in fields]
    assert made.pk is None and made._state.adding
    assert made.visitor is visitor  # from the cache, no query


def test_a_field_whose_default_is_computed_must_be_given():
    with pytest.raises(ValueError, match="first_seen_at"):
        instance_new(Visitor, environment_id=1, public_id="vis_0123456789abcdef", last_seen_at=timezone.now())
