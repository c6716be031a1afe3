"""Arriving at the portal: the help center's hand-off, no session, no access, signing out."""

from __future__ import annotations

import time

import jwt
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Portal, sign_in
from tests.support.stack import IDENTITY_SECRET

pytestmark = pytest.mark.browser


def test_the_hand_off_signs_in_and_removes_the_identity_from_the_address_bar(
    page: Page, portal: Portal
):
    sign_in(page, portal, "ann", "ann@acme.test")

    expect(page.locator("tbody tr")).to_have_count(len(portal.scenario.acme))
    assert page.url == f"{portal.base_url}/"
    assert "user_hash" not in page.evaluate("window.location.href")
    expect(page.locator("#signed-in")).to_have_text("Signed in as Ann Archer")
    session = next(c for c in page.context.cookies() if c["name"] == "portal_session")
    assert session["httpOnly"]
    assert page.evaluate("document.cookie") == ""


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_a_token_hand_off_signs_in_too(page: Page, portal: Portal):
    """``#token=<jwt>``: the help center's signed JWT instead of user_id + user_hash."""
    token = jwt.encode(
        {"sub": "bob", "email": "bob@acme.test", "exp": int(time.time()) + 600},
        IDENTITY_SECRET,
        algorithm="HS256",
    )
    page.goto(f"{portal.base_url}/#token={token}")

    expect(page.locator("#signed-in")).to_have_text("Signed in as Bob Baker")
    expect(page.locator("tbody tr")).to_have_count(len(portal.scenario.acme))
    assert page.url == f"{portal.base_url}/"


def test_without_a_session_the_page_says_how_to_sign_in(page: Page):
    page.goto("/")

    expect(page.locator("main h1")).to_have_text("Sign in to see your tickets")
    expect(page.locator("main")).to_contain_text("Customer portal card")
    expect(page.locator("table")).to_have_count(0)


def test_a_forged_hand_off_is_refused_and_forgotten(page: Page, portal: Portal):
    page.goto(f"{portal.base_url}/#user_id=ann&email=ann%40acme.test&user_hash={'0' * 64}")

    expect(page.locator("main h1")).to_have_text("This sign-in link did not work")
    assert page.url == f"{portal.base_url}/"
    assert not [c for c in page.context.cookies() if c["name"] == "portal_session"]


@pytest.mark.parametrize(
    ("user_id", "email", "requirement"),
    [
        ("nomail", None, "email"),
        ("loner", "lou@nowhere.test", "company"),
        ("idle", "ida@initech.test", "ticket"),
    ],
)
def test_without_access_the_page_names_the_missing_requirement(
    page: Page, portal: Portal, user_id, email, requirement
):
    sign_in(page, portal, user_id, email)

    expect(page.locator("main h1")).to_contain_text("use the customer portal yet")
    missing = page.locator(f'li[data-requirement="{requirement}"]')
    expect(missing).to_have_class("requirement is-missing")
    expect(missing).to_contain_text("missing")
    expect(page.locator("table")).to_have_count(0)
    name = {"nomail": "Nico No-Mail", "loner": "Lou Loner", "idle": "Ida Idle"}[user_id]
    expect(page.locator(".signed-in-as")).to_have_text(f"You are signed in as {name}.")
    expect(page.locator("#signed-in")).to_have_text(f"Signed in as {name}")
    expect(page.locator('.site-nav [aria-current="page"]')).to_have_count(0)
    if requirement == "email":
        expect(page.locator('li[data-requirement="company"]')).to_have_class("requirement is-met")


def test_signing_out_ends_the_session(page: Page, portal: Portal):
    sign_in(page, portal, "ann", "ann@acme.test")
    expect(page.locator("tbody tr").first).to_be_visible()

    page.get_by_role("button", name="Sign out").click()

    expect(page.locator("main h1")).to_have_text("Sign in to see your tickets")
    page.reload()
    expect(page.locator("main h1")).to_have_text("Sign in to see your tickets")
