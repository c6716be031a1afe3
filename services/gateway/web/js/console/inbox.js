/**
 * The inbox: every ticket, searched and filtered like the portal's list (type, state,
 * creator) plus the company filter with "No company", and a Company column a teammate can
 * show or hide (remembered in this browser). The filters live in the URL's query string.
 */
import { el, replaceChildren } from "../dom.js";
import { adminApi, queryString } from "./admin-api.js";
import { ticketTable } from "./ticket-list.js";
import { selectField, STATES, viewFrame } from "./words.js";

const COMPANY_COLUMN_KEY = "console-company-column";
const NO_COMPANY = "none";
const SEARCH_DELAY_MS = 250;
const FILTERS = ["q", "company", "state", "type", "creator_id", "page"];

export function readFilters(search) {
  const params = new URLSearchParams(search);
  return Object.fromEntries(FILTERS.map((name) => [name, params.get(name) ?? ""]));
}

/** The inbox API's query for the filters: "No company" is `no_company=true`. */
export function inboxQuery(filters) {
  const { company, ...rest } = filters;
  return queryString({
    ...rest,
    company_id: company && company !== NO_COMPANY ? company : "",
    no_company: company === NO_COMPANY ? "true" : "",
  });
}

export function mountInbox(root, context) {
  const filters = readFilters(context.search);
  const search = el("input", {
    id: "inbox-search",
    type: "search",
    value: filters.q,
    autocomplete: "off",
    placeholder: "Title, description, #ID or a reply",
  });
  const controls = el("form", { className: "filter-grid console-filters", role: "search" });
  const showCompany = el("input", { type: "checkbox", id: "show-company" });
  showCompany.checked = localStorage.getItem(COMPANY_COLUMN_KEY) !== "hidden";
  const results = el("div", { className: "inbox-results" });
  const { status } = viewFrame(
    root,
    "Inbox",
    el(
      "div",
      { className: "field search" },
      el("label", { for: "inbox-search" }, "Search tickets"),
      search,
    ),
    controls,
    el(
      "label",
      { className: "check", for: "show-company" },
      showCompany,
      " Show the Company column",
    ),
    results,
  );
  let facets = { types: [], creators: [], companies: [], no_company: false };
  let loading = null;
  let timer = null;

  function drawControls() {
    const companies = [
      ["", "Any company"],
      [NO_COMPANY, "No company"],
    ];
    companies.push(...facets.companies.map((c) => [c.id, c.name ?? c.id]));
    const fields = [
      selectField("filter-company", "Company", companies, filters.company),
      selectField("filter-state", "State", [["", "Any state"], ...STATES], filters.state),
      selectField(
        "filter-type",
        "Type",
        [["", "Any type"], ...facets.types.map((t) => [t, t])],
        filters.type,
      ),
      selectField(
        "filter-creator",
        "Created by",
        [["", "Anyone"], ...facets.creators.map((c) => [c.id, c.name ?? c.id])],
        filters.creator_id,
      ),
    ];
    replaceChildren(
      controls,
      fields.map(({ field }) => field),
    );
  }

  async function load() {
    loading?.abort();
    loading = new AbortController();
    status.textContent = "Loading tickets…";
    try {
      const answer = await adminApi(`/api/admin/tickets${inboxQuery(filters)}`, {
        signal: loading.signal,
      });
      status.textContent = "";
      replaceChildren(
        results,
        ticketTable(answer, {
          caption: "Tickets in the inbox",
          showCompany: showCompany.checked,
          onPage: (page) => change({ page: String(page) }),
        }),
      );
    } catch (error) {
      if (error.name === "AbortError") return;
      if (error.status === 401) return context.signedOut();
      status.textContent = `The tickets could not be loaded: ${error.message}`;
    }
  }

  function change(update) {
    Object.assign(filters, { page: "" }, update);
    const url = `/admin/${queryString(filters)}`;
    window.history.replaceState({}, "", url);
    load();
  }

  controls.addEventListener("change", (event) => {
    const name = {
      "filter-company": "company",
      "filter-state": "state",
      "filter-type": "type",
      "filter-creator": "creator_id",
    }[event.target.id];
    if (name) change({ [name]: event.target.value });
  });
  controls.addEventListener("submit", (event) => event.preventDefault());
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => change({ q: search.value.trim() }), SEARCH_DELAY_MS);
  });
  showCompany.addEventListener("change", () => {
    localStorage.setItem(COMPANY_COLUMN_KEY, showCompany.checked ? "shown" : "hidden");
    load();
  });

  drawControls();
  adminApi("/api/admin/inbox/facets")
    .then((answer) => {
      facets = answer;
      drawControls();
    })
    .catch(() => {});
  load();
  return {
    unmount: () => {
      clearTimeout(timer);
      loading?.abort();
    },
  };
}
