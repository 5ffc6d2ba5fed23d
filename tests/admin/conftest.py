"""Fixtures of the admin tests: staff users in the two groups, logged-in clients, and
helpers to post an admin action the way the changelist's action bar does."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from licensing.staff_groups import AUDITOR, COMPLIANCE_OFFICER


def _staff(django_user_model, username: str, group: str, organizations):
    user = django_user_model.objects.create_user(
        username=username, password="unused-password", is_staff=True
    )
    user.groups.add(Group.objects.get(name=group))
    for organization in organizations:
        organization.members.add(user)
    return user


@pytest.fixture
def officer(django_user_model, organization):
    """A compliance officer of `organization` (not a superuser)."""
    return _staff(django_user_model, "officer-ana", COMPLIANCE_OFFICER, [organization])


@pytest.fixture
def auditor(django_user_model, organization):
    """An auditor of `organization`: views everything, changes nothing."""
    return _staff(django_user_model, "auditor-ben", AUDITOR, [organization])


@pytest.fixture
def officer_client(officer):
    """Its own Client, so that a test can act as the officer and the auditor side by side."""
    client = Client()
    client.force_login(officer)
    return client


@pytest.fixture
def auditor_client(auditor):
    client = Client()
    client.force_login(auditor)
    return client


def changelist_url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change_url(obj) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def post_action(client, model, action: str, rows, *, query: str = "", **form):
    """Post `action` for `rows` as the changelist's action bar does (index=0), or, with
    `apply` in `form`, as its intermediate page does."""
    data = {"action": action, ACTION_CHECKBOX_NAME: [str(row.pk) for row in rows], **form}
    if "apply" not in form:
        data["index"] = "0"
    url = changelist_url(model) + (f"?{query}" if query else "")
    return client.post(url, data)


def messages_of(response) -> list[str]:
    """The texts of the messages shown on a page (or carried to the page redirected to)."""
    return [str(message) for message in response.context["messages"]] if response.context else []


def _form_values(form, data: dict) -> None:
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        key = form.add_prefix(name)
        if isinstance(value, bool) or value is None:
            if value:
                data[key] = "on"
            continue
        if isinstance(value, list | tuple):
            data[key] = [str(each) for each in value]
        else:
            data[key] = str(value)


def change_form_data(response) -> dict:
    """The POST data of an admin change form as rendered: the form and every inline formset
    with its management form, as a browser would send it unchanged."""
    data: dict = {}
    _form_values(response.context["adminform"].form, data)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        _form_values(formset.management_form, data)
        for form in formset.forms:
            _form_values(form, data)
    return data
