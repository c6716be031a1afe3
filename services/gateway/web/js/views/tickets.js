/**
 * The tickets view: search as you type, filters, sort, pages, attribute columns, CSV export
 * and a live refresh that keeps the user's place. The URL's query string is the source of
 * truth for what is shown; every change pushes a history entry so "back" undoes it. The
 * filters' choices come from their own endpoint: once after signing in (kept in `app`),
 * and again whenever a live refresh finds the list changed.
 *
 * This module wires the user's actions to the list state and the loads; the columns, the
 * table, the controls and the export each have a module of their own.
 */
import { api } from "../api.js";
import { chooseAttributeColumns } from "../attributes.js";
import { fromTemplate, keepingFocus, slotFinder } from "../dom.js";
import { plural, portalScope } from "../format.js";
import { liveLoader } from "../live.js";
import { listStateToApiParams, listStateToSearch, parseListState, toggledSort } from "../query.js";
import { renderColumnChooser, tickedColumns } from "./column-chooser.js";
import { visibleColumns } from "./ticket-columns.js";
import { exportTickets } from "./ticket-export.js";
import { clearedFilters, fillFixedChoices, showFacets, syncControls } from "./ticket-filters.js";
import { pageCount, renderTicketTable, showLoadFailure, showLoading } from "./ticket-table.js";

const SEARCH_DEBOUNCE_MS = 200;

export function mountTickets(root, app) {
  const view = fromTemplate("tpl-tickets");
  const slot = slotFinder(view);
  const search = view.querySelector("#ticket-search");
  const severalCompanies = app.me.companies.length > 1;

  let state = parseListState(window.location.search);
  /** The list answer on screen, drawn again when the user picks other attribute columns. */
  let shownList = null;
  let searchTimer = null;

  const list = liveLoader({
    read: (signal) => api(`/api/portal/tickets?${listStateToApiParams(state)}`, { signal }),
    loading: () => showLoading(view, state),
    render: showList,
    failed: (error, { quiet }) => {
      if (!quiet) showLoadFailure(view, error, () => list.show());
    },
    signedOut: app.signedOut,
  });
  // On failure the filters keep offering what they had.
  const facets = liveLoader({
    read: (signal) => api("/api/portal/tickets/facets", { signal }),
    render: (choices) => {
      app.facets = choices;
      showFacets(view, choices, state);
    },
    failed: () => {},
    signedOut: app.signedOut,
  });

  fillFixedChoices(view, app.me);
  syncControls(view, state);
  if (app.facets) showFacets(view, app.facets, state);
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
  slot("filters").addEventListener("submit", (event) => event.preventDefault());
  slot("filters").addEventListener("change", (event) => {
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
    chooseAttributeColumns(tickedColumns(slot("column-options")));
    if (shownList) keepingFocus(() => showList(shownList, { quiet: false }));
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

  list.show();
  if (!app.facets) facets.show();

  /** Show `next` and record it in the URL; typing a search keeps one history entry. */
  function commit(next, typing = false) {
    const url = `/${listStateToSearch(next)}`;
    const current = `${window.location.pathname}${window.location.search}`;
    if (url === current) return;
    if (typing && window.history.state?.typing) window.history.replaceState({ typing }, "", url);
    else window.history.pushState({ typing }, "", url);
    state = next;
    app.rememberListUrl(url);
    syncControls(view, state);
    list.show();
  }

  /**
   * Draw an answer of the list. A page past the end (tickets went away) turns into the last
   * page; a refresh that found the list changed asks for the filters' choices again.
   */
  function showList(result, { quiet }) {
    const pages = pageCount(result.total, state);
    if (state.page > pages && result.total > 0) {
      state = { ...state, page: pages };
      const url = `/${listStateToSearch(state)}`;
      window.history.replaceState(window.history.state, "", url);
      app.rememberListUrl(url);
      list.show();
      return;
    }
    shownList = result;
    const columns = visibleColumns(result.items, { severalCompanies });
    renderTicketTable(view, result, state, columns, portalScope(app.me).caption);
    renderColumnChooser(slot("column-options"), result.items);
    if (quiet && !facets.busy) facets.show();
  }

  async function exportCsv() {
    const button = slot("export");
    button.disabled = true;
    button.textContent = "Exporting…";
    try {
      const count = await exportTickets(state, { severalCompanies });
      slot("count").textContent = `Exported ${plural(count, "ticket", "tickets")}.`;
    } catch (error) {
      if (error.status === 401) app.signedOut();
      else showLoadFailure(view, error, () => list.show());
    } finally {
      button.disabled = false;
      button.textContent = "Export CSV";
    }
  }

  return {
    /** The URL changed under us (back/forward): show what it says. */
    update() {
      clearTimeout(searchTimer);
      state = parseListState(window.location.search);
      search.value = state.q;
      syncControls(view, state);
      list.show();
    },
    /** The live refresh: fetch the same view again and redraw only if something changed. */
    refresh: () => list.refresh(),
    unmount() {
      clearTimeout(searchTimer);
      list.stop();
      facets.stop();
      document.removeEventListener("keydown", focusSearchOnSlash);
    },
  };
}
