"""MLflow 3.13+'s admin and account pages through mlflow-auth (see conftest.py).

As admin, the Roles tab loads and a role is made in its dialog: a pattern
permission (READ on every experiment) and ``reader`` as its holder. ``reader``,
who held only a direct READ grant on the owner's model, then opens the owner's
experiment; their account page and the admin's page of them list both the direct
grant and the role. MLflow's UI reads these from users/roles/list, so no page may
say "Failed to load". MLflow 3.12's UI has no such pages: the module is skipped.
"""

import re

import mlflow
import pytest
from packaging.version import Version
from playwright.sync_api import expect

if Version(mlflow.__version__) < Version("3.13"):
    pytest.skip(f"MLflow {mlflow.__version__}'s UI has no roles (added in 3.13)", allow_module_level=True)

ROLE = "ui-readers"
FAILED = re.compile("Failed to load", re.IGNORECASE)


def no_failures(tab):
    expect(tab.page.get_by_text(FAILED)).to_have_count(0)
    assert not tab.refusals, tab.refusals


def expect_grants(tab, data):
    """The Roles and Permissions tabs of an account page: the role, and each
    permission with where it comes from."""
    main = tab.page.get_by_role("main")
    expect(main.get_by_text(ROLE, exact=True).first).to_be_visible()
    main.get_by_role("tab", name="Permissions").click()
    expect(main.get_by_role("row", name=re.compile(rf"registered_model:{data['model_name']}\s+READ\s+Direct"))).to_be_visible()
    expect(main.get_by_role("row", name=re.compile(rf"experiment:all\s+READ\s+{ROLE}"))).to_be_visible()
    no_failures(tab)


def test_admin_gives_a_role_and_its_holder_uses_it(browse, data):
    admin = browse(data["admin"], "admin")
    page = admin.page
    page.goto("/#/admin")
    page.get_by_role("tab", name="Roles").click()
    main = page.get_by_role("main")
    expect(main.get_by_role("button", name="Create Role", exact=True)).to_be_visible()
    no_failures(admin)

    main.get_by_role("button", name="Create Role", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_placeholder("Enter role name").fill(ROLE)
    # The permission form starts at experiment, all experiments, READ: the pattern "*".
    dialog.get_by_role("button", name="Permissions").click()
    dialog.get_by_role("button", name="Add", exact=True).click()
    dialog.get_by_role("button", name="Assign users").click()
    dialog.get_by_role("combobox", name="Users").click()
    page.get_by_role("option", name=data["reader"]["username"], exact=True).click()
    page.keyboard.press("Escape")
    with page.expect_response(lambda r: "/roles/permissions/add" in r.url) as added:
        with page.expect_response(lambda r: "/roles/assign" in r.url) as assigned:
            dialog.get_by_role("button", name="Create role", exact=True).click()
    assert added.value.status == 200 and added.value.request.post_data_json["resource_pattern"] == "*"
    assert assigned.value.status == 200
    expect(main.get_by_text(ROLE, exact=True)).to_be_visible()
    no_failures(admin)

    reader = browse(data["reader"], "reader")
    reader.page.goto("/#/experiments")
    reader.page.get_by_role("button", name="Model training").click()
    reader_main = reader.page.get_by_role("main")
    reader_main.get_by_role("link", name=data["experiment_name"], exact=True).click()
    expect(reader.page).to_have_url(re.compile(rf"#/experiments/{data['experiment_id']}/runs\b"))
    expect(reader_main.get_by_role("link", name=data["run_name"], exact=True)).to_be_visible()
    no_failures(reader)

    reader.page.goto("/#/account")
    expect_grants(reader, data)
    page.goto(f"/#/admin/users/{data['reader']['username']}")
    expect_grants(admin, data)
