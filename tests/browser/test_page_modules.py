"""The page's pure modules (URL state, CSV cells, the sign-in hand-off, the preview's HTML)
checked in the browser they run in, and the page's files checked for what the gateway's
Content Security Policy would refuse or what could insert ticket text as markup."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import Portal

pytestmark = pytest.mark.browser

WEB = Path(__file__).resolve().parents[2] / "services" / "gateway" / "web"


def run_module(page: Page, module: str, body: str):
    """Evaluate ``body`` (an async function body) with the module imported as ``m``."""
    page.goto("/")
    page.locator("main h1").wait_for()
    return page.evaluate(f"async () => {{ const m = await import('/static/js/{module}'); {body} }}")


def test_list_state_reads_only_what_it_understands_from_the_url(page: Page, portal: Portal):
    state = run_module(
        page,
        "query.js",
        "return m.parseListState("
        "'?q=printer&type=Bug&sort=colour&page=-3&per_page=7&created_from=2024-02-30"
        "&updated_to=2024-05-31');",
    )

    assert state["q"] == "printer"
    assert state["type"] == "Bug"
    assert state["sort"] == ""
    assert state["page"] == 1
    assert state["per_page"] == 25
    assert state["created_from"] == ""
    assert state["updated_to"] == "2024-05-31"


def test_list_state_round_trips_through_the_url_and_maps_to_the_api(page: Page, portal: Portal):
    search = (
        "?q=a+b&type=Bug&state=resolved&company_id=acme&updated_to=2024-05-31"
        "&sort=id&order=desc&page=3&per_page=50"
    )
    answer = run_module(
        page,
        "query.js",
        f"const s = m.parseListState('{search}');"
        "return {url: m.listStateToSearch(s), api: m.listStateToApiParams(s).toString(),"
        " flipped: m.toggledSort(s, 'id'), other: m.toggledSort(s, 'type'),"
        " plain: m.listStateToSearch(m.parseListState(''))};",
    )

    assert answer["url"] == search
    assert answer["api"] == (
        "q=a+b&type=Bug&state=resolved&company_id=acme&updated_to=2024-05-31T23%3A59%3A59.999Z"
        "&sort=id&order=desc&page=3&per_page=50"
    )
    assert (answer["flipped"]["order"], answer["flipped"]["page"]) == ("asc", 1)
    assert (answer["other"]["sort"], answer["other"]["order"]) == ("type", "asc")
    assert answer["plain"] == ""


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("plain", '"plain"'),
        ('say "hi"', '"say ""hi"""'),
        ("=1+1", '"\'=1+1"'),
        ("+SUM(A1)", '"\'+SUM(A1)"'),
        ("-2", '"\'-2"'),
        ("@cmd", '"\'@cmd"'),
        ("  =1+1", '"\'  =1+1"'),
        ("\t=1", '"\'\t=1"'),
        ("a=b", '"a=b"'),
    ],
)
def test_csv_cells_never_start_a_formula(page: Page, portal: Portal, value, cell):
    assert run_module(page, "csv.js", f"return m.safeCell({value!r});") == cell


def test_the_hand_off_fragment_becomes_session_credentials(page: Page, portal: Portal):
    answer = run_module(
        page,
        "handoff.js",
        "return ["
        "m.credentialsFromFragment('#user_id=ann&email=ann%40acme.test&user_hash=ab12'),"
        "m.credentialsFromFragment('#token=eyJ.x.y'),"
        "m.credentialsFromFragment('#user_id=ann'),"
        "m.credentialsFromFragment('')];",
    )

    assert answer == [
        {"user_id": "ann", "email": "ann@acme.test", "user_hash": "ab12"},
        {"token": "eyJ.x.y"},
        None,
        None,
    ]


def test_the_preview_keeps_only_text_and_marks(page: Page, portal: Portal):
    html = (
        "a <mark>b</mark> &amp; &lt;i&gt; &#x27;q&#39; "
        '<img src=x onerror="window.__injected=1"><mark>c</mark>'
    )
    answer = run_module(
        page,
        "highlight.js",
        f"const box = document.createElement('div'); box.append(m.highlightedFragment({html!r}));"
        "return {text: box.textContent, elements: [...box.querySelectorAll('*')]"
        ".map(e => [e.localName, e.textContent]), plain: m.highlightedText({html!r})};".replace(
            "{html!r}", repr(html)
        ),
    )

    assert answer["text"] == "a b & <i> 'q' <img src=x onerror=\"window.__injected=1\">c"
    assert answer["elements"] == [["mark", "b"], ["mark", "c"]]
    assert answer["plain"] == answer["text"]


def test_the_page_has_no_inline_code_and_never_writes_html():
    """CSP ``default-src 'self'`` refuses inline scripts, styles and handlers; ticket text
    goes in as text, so no script may assign HTML (the preview is parsed by DOMParser)."""
    page = (WEB / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    assert "<style" not in page
    assert re.findall(r"\sstyle=", page) == []
    assert re.findall(r"\son[a-z]+=", page) == []
    for script in WEB.rglob("*.js"):
        code = script.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in code, f"{script.name} uses {sink}"
