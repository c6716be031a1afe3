"""The page's pure modules (URL state, CSV cells, the sign-in hand-off, the preview's HTML)
checked in the browser they run in, and the page's files checked for what the gateway's
Content Security Policy would refuse or what could insert ticket text as markup."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page

from kernel.errors import ValidationFailed
from services.tickets import ticket_types
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


# A live loader whose reads answer only when the test says so (and ignore their abort
# signal, as a late network answer would), recording what the loader does with them.
LIVE_LOADER_HARNESS = """
const reads = [];
const log = [];
const settle = () => new Promise((resolve) => setTimeout(resolve));
const live = m.liveLoader({
  read: (signal) => new Promise((resolve, reject) => reads.push({ resolve, reject, signal })),
  loading: () => log.push(["loading"]),
  render: (answer, { quiet }) => log.push(["render", answer, quiet]),
  failed: (error, { quiet }) => log.push(["failed", error.message, quiet]),
  signedOut: () => log.push(["signed out"]),
});
"""


def test_the_live_loader_draws_only_the_answer_to_its_latest_load(page: Page, portal: Portal):
    answer = run_module(
        page,
        "live.js",
        LIVE_LOADER_HARNESS
        + """
        live.show();
        live.show();
        reads[1].resolve("second");
        reads[0].resolve("first, late");
        await settle();
        return { log, aborted: reads.map((read) => read.signal.aborted), busy: live.busy };
        """,
    )

    assert answer["log"] == [["loading"], ["loading"], ["render", "second", False]]
    assert answer["aborted"] == [True, False]
    assert answer["busy"] is False


def test_a_live_refresh_waits_for_the_load_in_flight_and_redraws_only_a_change(
    page: Page, portal: Portal
):
    answer = run_module(
        page,
        "live.js",
        LIVE_LOADER_HARNESS
        + """
        live.show();
        live.refresh();
        const readsWhileLoading = reads.length;
        reads[0].resolve({ tickets: 1 });
        await settle();
        live.refresh();
        reads[1].resolve({ tickets: 1 });
        await settle();
        live.refresh();
        reads[2].resolve({ tickets: 2 });
        await settle();
        live.refresh();
        reads[3].reject(new Error("offline"));
        await settle();
        live.check();
        live.check();
        reads[5].reject(new DOMException("cancelled", "AbortError"));
        await settle();
        return { log, readsWhileLoading, aborted: reads[4].signal.aborted };
        """,
    )

    assert answer["readsWhileLoading"] == 1
    assert answer["log"] == [
        ["loading"],
        ["render", {"tickets": 1}, False],
        ["render", {"tickets": 2}, True],
        ["failed", "offline", True],
    ]
    assert answer["aborted"] is True


def test_a_stopped_live_loader_loads_and_draws_nothing_more(page: Page, portal: Portal):
    answer = run_module(
        page,
        "live.js",
        LIVE_LOADER_HARNESS
        + """
        live.show();
        live.stop();
        reads[0].resolve("after the view went away");
        await settle();
        live.refresh();
        live.show();
        return { log, reads: reads.length, aborted: reads[0].signal.aborted, busy: live.busy };
        """,
    )

    assert answer == {"log": [["loading"]], "reads": 1, "aborted": True, "busy": False}


def test_a_401_from_the_api_sends_the_live_loader_back_to_sign_in(page: Page, portal: Portal):
    """The page in ``run_module`` is signed out, so the real API answers 401."""
    answer = run_module(
        page,
        "live.js",
        """
        const { api } = await import("/static/js/api.js");
        const log = [];
        const live = m.liveLoader({
          read: (signal) => api("/api/portal/tickets", { signal }),
          render: () => log.push("render"),
          failed: (error) => log.push(`failed ${error.status}`),
          signedOut: () => log.push("signed out"),
        });
        await live.show();
        return log;
        """,
    )

    assert answer == ["signed out"]


TICKETS = """[
  {
    id: 7, title: "=cmd", type: "Bug", state: "resolved",
    created_at: "2024-05-01T10:00:00Z", updated_at: "2024-05-02T10:00:00Z",
    company: { id: "acme", name: "Acme" },
    attributes: [{ name: "Region", value: "EU" }, { name: "Priority", value: "High" }],
    preview: {
      location: "reply", html: "a <mark>b</mark> &amp; c", author_name: "Tess",
      timestamp: "2024-05-02T10:00:00Z", relative_time: "1 day ago",
    },
  },
  {
    id: 8, title: "Plain", type: "Question", state: "submitted",
    created_at: "2024-05-03T10:00:00Z", updated_at: "2024-05-03T10:00:00Z",
    company: { id: "acme", name: "Acme" }, attributes: [],
  },
]"""


def test_ticket_columns_follow_the_items_and_the_chosen_attributes(page: Page, portal: Portal):
    answer = run_module(
        page,
        "views/ticket-columns.js",
        f"""
        const {{ chooseAttributeColumns }} = await import("/static/js/attributes.js");
        chooseAttributeColumns(["Priority", "Region", "Missing"]);
        const items = {TICKETS};
        const keys = (list, severalCompanies) =>
          m.visibleColumns(list, {{ severalCompanies }}).map((column) => column.key);
        return {{ plain: keys([items[1]], false), all: keys(items, true) }};
        """,
    )

    assert answer["plain"] == ["id", "title", "type", "state", "created_at", "updated_at"]
    assert answer["all"] == [
        "id",
        "title",
        "preview",
        "type",
        "state",
        "created_at",
        "updated_at",
        "company",
        "attribute:Priority",
        "attribute:Region",
    ]


def test_each_ticket_column_draws_its_header_cell_and_csv_values(page: Page, portal: Portal):
    answer = run_module(
        page,
        "views/ticket-columns.js",
        f"""
        const {{ chooseAttributeColumns }} = await import("/static/js/attributes.js");
        chooseAttributeColumns(["Priority"]);
        const items = {TICKETS};
        const columns = m.visibleColumns(items, {{ severalCompanies: true }});
        const byKey = Object.fromEntries(columns.map((column) => [column.key, column]));
        const sortedById = byKey.id.header({{ sort: "id", order: "desc" }});
        return {{
          csv: m.csvRows(items, columns),
          cells: columns.map((column) => {{
            const cell = column.cell(items[0]);
            return [cell.localName, cell.className, cell.dataset.label, cell.textContent];
          }}),
          link: byKey.title.cell(items[0]).querySelector("a").getAttribute("href"),
          sorted: [sortedById.getAttribute("aria-sort"), sortedById.textContent],
          unsorted: byKey.type.header({{ sort: "id", order: "desc" }}).textContent,
          plain: [byKey.title.header(null).textContent, byKey.title.header(null).children.length],
        }};
        """,
    )

    assert answer["csv"] == [
        [
            "ID",
            "Title",
            "Match in",
            "Preview",
            "Preview author",
            "Type",
            "State",
            "Created on",
            "Last updated",
            "Company",
            "Priority",
        ],
        [
            "#7",
            "=cmd",
            "Reply",
            "a b & c",
            "Tess",
            "Bug",
            "Resolved",
            "2024-05-01T10:00:00Z",
            "2024-05-02T10:00:00Z",
            "Acme",
            "High",
        ],
        [
            "#8",
            "Plain",
            "",
            "",
            "",
            "Question",
            "Submitted",
            "2024-05-03T10:00:00Z",
            "2024-05-03T10:00:00Z",
            "Acme",
            "",
        ],
    ]
    assert answer["cells"] == [
        ["td", "col-id", "ID", "#7"],
        ["th", "col-title", "Title", "=cmd"],
        ["td", "col-preview", "Preview", "a b & cIn reply · Tess · 1 day ago"],
        ["td", "col-type", "Type", "Bug"],
        ["td", "col-state", "State", "Resolved"],
        ["td", "col-created-at", "Created on", "May 1, 2024"],
        ["td", "col-updated-at", "Last updated", "May 2, 2024"],
        ["td", "col-company", "Company", "Acme"],
        ["td", "col-attribute", "Priority", "High"],
    ]
    assert answer["link"] == "/tickets/7"
    assert answer["sorted"] == ["descending", "ID▼"]
    assert answer["unsorted"] == "Type↕"
    assert answer["plain"] == ["Title", 0]


def test_the_new_ticket_forms_checks_say_what_the_server_says(page: Page, portal: Portal):
    fields = [
        {"key": "s", "label": "Severity", "type": "select", "required": True,
         "visible_to_customer": True, "options": ["Low", "High"]},
        {"key": "n", "label": "Seats", "type": "number", "required": False,
         "visible_to_customer": True, "options": []},
        {"key": "d", "label": "Since", "type": "date", "required": False,
         "visible_to_customer": True, "options": []},
        {"key": "b", "label": "Blocking", "type": "boolean", "required": False,
         "visible_to_customer": True, "options": []},
    ]  # fmt: skip
    cases = [
        {},
        {"s": "Medium"},
        {"s": "Low", "n": "3"},
        {"s": "Low", "d": "2026-02-30"},
        {"s": "Low", "d": "2026-2-3"},
        {"s": "Low", "b": "yes"},
        {"s": "Low", "n": 3, "d": "2024-02-29", "b": False},
    ]
    page_problems = run_module(
        page,
        "form-checks.js",
        f"const fields = {json.dumps(fields)}; const cases = {json.dumps(cases)};"
        "return cases.map((answers) => m.checkTicket({id: 't', attributes: fields},"
        " {title: 'x', description: '', answers, companyId: ''}).problems);",
    )
    bug = ticket_types.TicketType("t", "T", "", True, tuple(fields), 1)
    for answers, problems in zip(cases, page_problems, strict=True):
        try:
            ticket_types.answered_attributes(bug, answers)
            expected = {}
        except ValidationFailed as error:
            expected = error.fields
        assert problems == expected, answers
