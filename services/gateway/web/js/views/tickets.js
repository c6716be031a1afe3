/**
 * The ticket table: search as you type, filters, sort, pages, attribute columns, CSV export
 * and a live refresh that keeps the user's place. The URL's query string is the source of
 * truth for what is shown; every change pushes a history entry so "back" undoes it. The
 * filters' choices come from their own endpoint: once after signing in (kept in `app`),
 * and again whenever a live refresh finds the list changed.
 */
import { api } from "../api.js";
import {
  attributeNames,
  attributeValue,
  chooseAttributeColumns,
  chosenAttributeColumns,
} from "../columns.js";
import { download, toCsv } from "../csv.js";
import { el, fromTemplate, keepingFocus, replaceChildren } from "../dom.js";
import {
  facetOptions,
  formatDateTime,
  locationLabel,
  plural,
  STATES,
  stateBadge,
  stateLabel,
  ticketNumber,
  timeElement,
} from "../format.js";
import { highlightedFragment, highlightedText } from "../highlight.js";
import {
  FILTER_NAMES,
  isNarrowed,
  listStateToApiParams,
  listStateToSearch,
  PER_PAGE_CHOICES,
  parseListState,
  sortOf,
  toggledSort,
} from "../query.js";

const SEARCH_DEBOUNCE_MS = 200;
const EXPORT_PAGE_SIZE = 100;

/** The fixed columns; `sortable` ones are the API's sort keys. */
const FIXED_COLUMNS = [
  { key: "id", label: "ID", sortable: true },
  { key: "title", label: "Title" },
  { key: "type", label: "Type", sortable: true },
  { key: "state", label: "State", sortable: true },
  { key: "created_at", label: "Created on", sortable: true },
  { key: "updated_at", label: "Last updated", sortable: true },
];

export function mountTickets(root, app) {
  const view = fromTemplate("tpl-tickets");
  const slot = (name) => view.querySelector(`[data-slot="${name}"]`);
  const search = view.querySelector("#ticket-search");
  const filters = slot("filters");
  const hasSeveralCompanies = app.me.companies.length > 1;

  let state = parseListState(window.location.search);
  let answer = null;
  let shownSignature = "";
  let sequence = 0;
  let inflight = null;
  let facetsInflight = null;
  let searchTimer = null;

  slot("companies").textContent = companiesLine(app.me.companies);
  slot("company-field").hidden = !hasSeveralCompanies;
  fillSelect(
    view.querySelector("#filter-state"),
    STATES.map(([value, label]) => ({ value, label })),
  );
  fillSelect(
    view.querySelector("#filter-company"),
    app.me.companies.map((company) => ({ value: company.id, label: company.name })),
  );
  fillSelect(
    slot("per-page"),
    PER_PAGE_CHOICES.map((n) => ({ value: String(n), label: String(n) })),
    false,
  );
  syncControls();
  if (app.facets) renderFacets(app.facets);
  root.replaceChildren(view);

  // --- user actions --------------------------------------------------------------------

  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(
      () => commit({ ...state, q: search.value, page: 1 }, true),
      SEARCH_DEBOUNCE_MS,
    );
  });
  slot("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(searchTimer);
    commit({ ...state, q: search.value, page: 1 }, true);
  });
  filters.addEventListener("submit", (event) => event.preventDefault());
  filters.addEventListener("change", (event) => {
    const { name, value } = event.target;
    if (name in state) commit({ ...state, [name]: value, page: 1 });
  });
  slot("clear-filters").addEventListener("click", () => commit(clearedFilters(state)));
  slot("empty-clear").addEventListener("click", () => {
    commit({ ...clearedFilters(state), q: "" });
    search.focus();
  });
  slot("head").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-sort]");
    if (button) commit(toggledSort(state, button.dataset.sort));
  });
  slot("previous").addEventListener("click", () => commit({ ...state, page: state.page - 1 }));
  slot("next").addEventListener("click", () => commit({ ...state, page: state.page + 1 }));
  slot("per-page").addEventListener("change", (event) =>
    commit({ ...state, per_page: Number(event.target.value), page: 1 }),
  );
  slot("column-options").addEventListener("change", () => {
    const chosen = [...slot("column-options").querySelectorAll("input:checked")];
    chooseAttributeColumns(chosen.map((box) => box.value));
    if (answer) render(answer, { force: true });
  });
  slot("export").addEventListener("click", exportCsv);
  const focusSearchOnSlash = (event) => {
    const typing = event.target.closest?.("input, select, textarea, [contenteditable]");
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      search.focus();
      search.select();
    }
  };
  document.addEventListener("keydown", focusSearchOnSlash);

  load();
  if (!app.facets) loadFacets();

  /** Show `next` and record it in the URL; typing a search keeps one history entry. */
  function commit(next, typing = false) {
    const url = `/${listStateToSearch(next)}`;
    const current = `${window.location.pathname}${window.location.search}`;
    if (url === current) return;
    if (typing && window.history.state?.typing) window.history.replaceState({ typing }, "", url);
    else window.history.pushState({ typing }, "", url);
    state = next;
    app.rememberListUrl(url);
    syncControls();
    load();
  }

  /** Put the URL's state into the form controls (after "back" or on a shared link). */
  function syncControls() {
    if (search.value !== state.q && document.activeElement !== search) search.value = state.q;
    for (const control of filters.elements) {
      if (control.name && control.name in state) control.value = state[control.name];
    }
    slot("per-page").value = String(state.per_page);
    const count = FILTER_NAMES.filter((name) => state[name]).length;
    slot("filter-count").textContent = count ? `(${count} active)` : "";
  }

  // --- loading ---------------------------------------------------------------------------

  async function load({ silent = false } = {}) {
    const mine = ++sequence;
    inflight?.abort();
    const controller = new AbortController();
    inflight = controller;
    if (!silent) showLoading();
    try {
      const result = await api(`/api/portal/tickets?${listStateToApiParams(state)}`, {
        signal: controller.signal,
      });
      if (mine !== sequence) return;
      const pages = Math.max(1, Math.ceil(result.total / state.per_page));
      if (state.page > pages && result.total > 0) {
        state = { ...state, page: pages };
        window.history.replaceState(window.history.state, "", `/${listStateToSearch(state)}`);
        app.rememberListUrl(`/${listStateToSearch(state)}`);
        load();
        return;
      }
      const changed = render(result, { force: !silent });
      if (silent && changed) loadFacets();
    } catch (error) {
      if (mine !== sequence || error.name === "AbortError") return;
      if (error.status === 401) {
        app.signedOut();
        return;
      }
      if (!silent) showError(error);
    } finally {
      if (mine === sequence) {
        inflight = null;
        slot("region").setAttribute("aria-busy", "false");
      }
    }
  }

  /** The filter choices; on failure the filters keep offering what they had. */
  async function loadFacets() {
    if (facetsInflight) return;
    const controller = new AbortController();
    facetsInflight = controller;
    try {
      app.facets = await api("/api/portal/tickets/facets", { signal: controller.signal });
      renderFacets(app.facets);
    } catch (error) {
      if (error.name !== "AbortError" && error.status === 401) app.signedOut();
    } finally {
      if (facetsInflight === controller) facetsInflight = null;
    }
  }

  function showLoading() {
    slot("region").setAttribute("aria-busy", "true");
    slot("region").classList.add("is-loading");
    slot("count").textContent = state.q.trim() ? "Searching…" : "Loading tickets…";
  }

  function showError(error) {
    slot("region").classList.remove("is-loading");
    const fields = Object.keys(error.fields ?? {});
    const message =
      error.status === 422 || error.status === 400
        ? `Some filters are not valid${fields.length ? ` (${fields.join(", ")})` : ""}: ${error.message}`
        : "We couldn’t load your tickets. Check your connection and try again.";
    replaceChildren(
      slot("error"),
      el("p", {}, message),
      el(
        "button",
        { type: "button", className: "button-secondary", onclick: () => load() },
        "Try again",
      ),
    );
    slot("error").hidden = false;
    slot("count").textContent = "";
  }

  // --- rendering -------------------------------------------------------------------------

  /** Draw an answer unless it is the one shown (or `force`); whether the answer changed. */
  function render(result, { force = false } = {}) {
    const signature = JSON.stringify(result);
    const changed = signature !== shownSignature;
    if (!force && !changed) return false;
    shownSignature = signature;
    answer = result;
    slot("error").hidden = true;
    slot("region").classList.remove("is-loading");
    const columns = visibleColumns(result.items);
    keepingFocus(() => {
      renderHead(columns);
      replaceChildren(
        slot("body"),
        result.items.map((item) => row(item, columns)),
      );
      renderColumnChooser(result.items);
      renderPagination(result.total);
    });
    renderCount(result);
    const empty = result.items.length === 0;
    view.querySelector("table").hidden = empty;
    slot("empty").hidden = !empty;
    if (empty) {
      slot("empty-text").textContent = isNarrowed(state)
        ? "No tickets match your search and filters."
        : "There are no tickets to show yet.";
      slot("empty-clear").hidden = !isNarrowed(state);
    }
    return changed;
  }

  function visibleColumns(items) {
    const columns = [...FIXED_COLUMNS];
    // The server sends previews only while searching and only when the teammates' setting
    // is on, so a change of the setting shows on the next refresh.
    if (items.some((item) => item.preview)) {
      columns.splice(2, 0, { key: "preview", label: "Preview" });
    }
    if (hasSeveralCompanies) columns.push({ key: "company", label: "Company" });
    const known = new Set(attributeNames(items));
    for (const name of chosenAttributeColumns()) {
      if (known.has(name)) columns.push({ key: `attribute:${name}`, label: name, attribute: name });
    }
    return columns;
  }

  function renderHead(columns) {
    const sort = sortOf(state);
    const cells = columns.map((column) => {
      const th = el("th", {
        scope: "col",
        role: "columnheader",
        className: `col-${columnClass(column)}`,
      });
      if (!column.sortable) {
        th.textContent = column.label;
        return th;
      }
      const sorted = sort?.sort === column.key;
      if (sorted) th.setAttribute("aria-sort", sort.order === "asc" ? "ascending" : "descending");
      const indicator = sorted ? (sort.order === "asc" ? "▲" : "▼") : "↕";
      th.append(
        el(
          "button",
          {
            type: "button",
            className: `sort-button${sorted ? " is-sorted" : ""}`,
            dataset: { sort: column.key, focusKey: `sort-${column.key}` },
          },
          column.label,
          el("span", { className: "sort-indicator", "aria-hidden": "true" }, indicator),
        ),
      );
      return th;
    });
    replaceChildren(slot("head"), cells);
    slot("caption").textContent = captionText(columns);
  }

  function captionText(columns) {
    const sort = sortOf(state);
    const what = searching() ? `Tickets matching “${state.q.trim()}”` : "Your company’s tickets";
    if (!sort) return `${what}, best matches first`;
    const label = columns.find((column) => column.key === sort.sort)?.label ?? sort.sort;
    return `${what}, sorted by ${label}, ${sort.order === "asc" ? "ascending" : "descending"}`;
  }

  function row(item, columns) {
    const tr = el("tr", { role: "row", dataset: { ticketId: item.id } });
    for (const column of columns) tr.append(cell(item, column));
    return tr;
  }

  function cell(item, column) {
    const className = `col-${columnClass(column)}`;
    if (column.key === "title") {
      return el(
        "th",
        { scope: "row", role: "rowheader", className, dataset: { label: column.label } },
        el(
          "a",
          {
            href: `/tickets/${encodeURIComponent(item.id)}`,
            dataset: { focusKey: `ticket-${item.id}` },
          },
          item.title,
        ),
      );
    }
    const td = el("td", { role: "cell", className, dataset: { label: column.label } });
    switch (column.key) {
      case "id":
        td.textContent = ticketNumber(item.id);
        break;
      case "state":
        td.append(stateBadge(item.state));
        break;
      case "created_at":
      case "updated_at":
        td.append(timeElement(item[column.key], { dateOnly: true }));
        break;
      case "preview":
        td.append(preview(item.preview));
        break;
      case "company":
        td.textContent = item.company?.name ?? "";
        break;
      default:
        td.textContent = column.attribute
          ? attributeValue(item, column.attribute)
          : String(item[column.key] ?? "");
    }
    return td;
  }

  function renderFacets(facets) {
    updateOptions(view.querySelector("#filter-type"), facetOptions(facets.types));
    updateOptions(view.querySelector("#filter-creator"), facetOptions(facets.creators));
  }

  /** Refresh a filter's options unless the user is in it; the chosen value always stays. */
  function updateOptions(select, options) {
    if (document.activeElement === select) return;
    const chosen = state[select.name];
    if (chosen && !options.some((option) => option.value === chosen)) {
      options.push({ value: chosen, label: chosen });
    }
    fillSelect(select, options);
    select.value = chosen;
  }

  function renderColumnChooser(items) {
    const names = [...new Set([...attributeNames(items), ...chosenAttributeColumns()])].sort();
    const chosen = new Set(chosenAttributeColumns());
    const options = names.map((name, index) =>
      el(
        "div",
        { className: "check" },
        el("input", {
          type: "checkbox",
          id: `column-${index}`,
          value: name,
          checked: chosen.has(name),
          dataset: { focusKey: `column-${name}` },
        }),
        el("label", { for: `column-${index}` }, name),
      ),
    );
    replaceChildren(
      slot("column-options"),
      options.length
        ? options
        : el("p", { className: "hint" }, "These tickets have no custom attributes."),
    );
  }

  function renderPagination(total) {
    const pages = Math.max(1, Math.ceil(total / state.per_page));
    const previous = slot("previous");
    const next = slot("next");
    const focused = document.activeElement;
    previous.disabled = state.page <= 1;
    next.disabled = state.page >= pages;
    slot("page-of").textContent = `Page ${state.page} of ${pages}`;
    slot("pagination").hidden = total === 0;
    if (focused === next && next.disabled) previous.focus();
    if (focused === previous && previous.disabled) next.focus();
  }

  function renderCount(result) {
    const first = (state.page - 1) * state.per_page + 1;
    const last = first + result.items.length - 1;
    const total = searching()
      ? `${plural(result.total, "result", "results")} for “${state.q.trim()}”`
      : plural(result.total, "ticket", "tickets");
    slot("count").textContent =
      result.items.length && result.total > result.items.length
        ? `${total} · showing ${first}–${last}`
        : total;
  }

  // --- CSV export ------------------------------------------------------------------------

  async function exportCsv() {
    const button = slot("export");
    button.disabled = true;
    button.textContent = "Exporting…";
    try {
      const items = [];
      for (let page = 1; ; page += 1) {
        const params = listStateToApiParams(state, { page, per_page: EXPORT_PAGE_SIZE });
        const result = await api(`/api/portal/tickets?${params}`);
        items.push(...result.items);
        if (result.items.length === 0 || items.length >= result.total) break;
      }
      const columns = visibleColumns(items);
      const header = columns.flatMap((column) =>
        column.key === "preview" ? ["Match in", "Preview", "Preview author"] : [column.label],
      );
      const rows = items.map((item) => columns.flatMap((column) => csvValues(item, column)));
      download(`tickets-${new Date().toISOString().slice(0, 10)}.csv`, toCsv([header, ...rows]));
      slot("count").textContent = `Exported ${plural(items.length, "ticket", "tickets")}.`;
    } catch (error) {
      if (error.status === 401) app.signedOut();
      else showError(error);
    } finally {
      button.disabled = false;
      button.textContent = "Export CSV";
    }
  }

  function csvValues(item, column) {
    switch (column.key) {
      case "id":
        return [ticketNumber(item.id)];
      case "state":
        return [stateLabel(item.state)];
      case "created_at":
      case "updated_at":
        return [item[column.key] ?? ""];
      case "preview":
        return item.preview
          ? [
              locationLabel(item.preview.location),
              highlightedText(item.preview.html),
              item.preview.author_name ?? "",
            ]
          : ["", "", ""];
      case "company":
        return [item.company?.name ?? ""];
      default:
        return [
          column.attribute ? attributeValue(item, column.attribute) : (item[column.key] ?? ""),
        ];
    }
  }

  function searching() {
    return Boolean(state.q.trim());
  }

  return {
    /** The URL changed under us (back/forward): show what it says. */
    update() {
      clearTimeout(searchTimer);
      state = parseListState(window.location.search);
      search.value = state.q;
      syncControls();
      load();
    },
    /** The live refresh: fetch the same view again and redraw only if something changed. */
    refresh() {
      if (!inflight) load({ silent: true });
    },
    unmount() {
      clearTimeout(searchTimer);
      inflight?.abort();
      facetsInflight?.abort();
      document.removeEventListener("keydown", focusSearchOnSlash);
    },
  };
}

function preview(data) {
  if (!data) return "";
  const when = el(
    "time",
    { datetime: data.timestamp, title: formatDateTime(data.timestamp) },
    data.relative_time,
  );
  return el(
    "div",
    { className: "preview" },
    el("p", { className: "preview-snippet" }, highlightedFragment(data.html ?? "")),
    el(
      "p",
      { className: "preview-meta" },
      el(
        "span",
        { className: "match-location" },
        `In ${locationLabel(data.location).toLowerCase()}`,
      ),
      data.author_name ? ` · ${data.author_name}` : "",
      " · ",
      when,
    ),
  );
}

function fillSelect(select, options, keepFirst = true) {
  const first = keepFirst ? select.options[0] : null;
  select.replaceChildren(...(first ? [first] : []));
  for (const option of options) select.append(el("option", { value: option.value }, option.label));
}

function clearedFilters(state) {
  return { ...state, ...Object.fromEntries(FILTER_NAMES.map((name) => [name, ""])), page: 1 };
}

function columnClass(column) {
  return column.attribute ? "attribute" : column.key.replaceAll("_", "-");
}

function companiesLine(companies) {
  const names = companies.map((company) => company.name);
  if (names.length === 0) return "";
  const formatter = new Intl.ListFormat(undefined, { style: "long", type: "conjunction" });
  return `All tickets of ${formatter.format(names)}`;
}
