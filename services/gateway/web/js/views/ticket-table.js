/**
 * The ticket list's region of the tickets view: the table with its caption, the result
 * count, the pages, the empty state, and the loading and failure states between answers.
 */
import { el, replaceChildren, slotFinder } from "../dom.js";
import { plural } from "../format.js";
import { isNarrowed, sortOf } from "../query.js";

/**
 * Draw one answer of `GET /api/portal/tickets` for `state` in `columns`; `listName` names
 * the whole list in the caption ("Your company’s tickets") when no search narrows it.
 */
export function renderTicketTable(view, result, state, columns, listName) {
  const slot = slotFinder(view);
  showLoaded(slot);
  slot("error").hidden = true;
  const sort = sortOf(state);
  replaceChildren(
    slot("head"),
    columns.map((column) => column.header(sort)),
  );
  slot("caption").textContent = captionText(columns, state, listName);
  replaceChildren(
    slot("body"),
    result.items.map((item) => row(item, columns)),
  );
  renderPagination(slot, result.total, state);
  slot("count").textContent = countText(result, state);
  const empty = result.items.length === 0;
  view.querySelector("table").hidden = empty;
  slot("empty").hidden = !empty;
  if (empty) {
    slot("empty-text").textContent = isNarrowed(state)
      ? "No tickets match your search and filters."
      : "There are no tickets to show yet.";
    slot("empty-clear").hidden = !isNarrowed(state);
  }
}

/** The list is being loaded (the table stays, dimmed, until the answer comes). */
export function showLoading(view, state) {
  const slot = slotFinder(view);
  slot("region").setAttribute("aria-busy", "true");
  slot("region").classList.add("is-loading");
  slot("count").textContent = state.q.trim() ? "Searching…" : "Loading tickets…";
}

/** A load or an export failed: say why, with a button that tries again. */
export function showLoadFailure(view, error, tryAgain) {
  const slot = slotFinder(view);
  showLoaded(slot);
  const fields = Object.keys(error.fields ?? {});
  const message =
    error.status === 422 || error.status === 400
      ? `Some filters are not valid${fields.length ? ` (${fields.join(", ")})` : ""}: ${error.message}`
      : "We couldn’t load your tickets. Check your connection and try again.";
  replaceChildren(
    slot("error"),
    el("p", {}, message),
    el("button", { type: "button", className: "button-secondary", onclick: tryAgain }, "Try again"),
  );
  slot("error").hidden = false;
  slot("count").textContent = "";
}

/** The number of pages for `total` tickets at the state's page size (at least one). */
export function pageCount(total, state) {
  return Math.max(1, Math.ceil(total / state.per_page));
}

function showLoaded(slot) {
  slot("region").setAttribute("aria-busy", "false");
  slot("region").classList.remove("is-loading");
}

function row(item, columns) {
  return el(
    "tr",
    { role: "row", dataset: { ticketId: item.id } },
    columns.map((column) => column.cell(item)),
  );
}

function captionText(columns, state, listName) {
  const sort = sortOf(state);
  const q = state.q.trim();
  const what = q ? `Tickets matching “${q}”` : listName;
  if (!sort) return `${what}, best matches first`;
  const label = columns.find((column) => column.key === sort.sort)?.label ?? sort.sort;
  return `${what}, sorted by ${label}, ${sort.order === "asc" ? "ascending" : "descending"}`;
}

/** Previous and next (none when everything fits), moving the focus to the other one when
 * the focused one turns off. */
function renderPagination(slot, total, state) {
  const pages = pageCount(total, state);
  const previous = slot("previous");
  const next = slot("next");
  const focused = document.activeElement;
  previous.disabled = state.page <= 1;
  next.disabled = state.page >= pages;
  slot("page-of").textContent = `Page ${state.page} of ${pages}`;
  slot("pagination").hidden = total === 0;
  // No pager when everything fits on one page (the page size stays to choose).
  const fits = pages <= 1 && state.page <= 1;
  for (const name of ["previous", "page-of", "next"]) slot(name).hidden = fits;
  if (focused === next && next.disabled) previous.focus();
  if (focused === previous && previous.disabled) next.focus();
}

function countText(result, state) {
  const q = state.q.trim();
  const first = (state.page - 1) * state.per_page + 1;
  const last = first + result.items.length - 1;
  const total = q
    ? `${plural(result.total, "result", "results")} for “${q}”`
    : plural(result.total, "ticket", "tickets");
  return result.items.length && result.total > result.items.length
    ? `${total} · showing ${first}–${last}`
    : total;
}
