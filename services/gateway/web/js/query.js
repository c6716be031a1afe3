/**
 * The ticket table's view as data, and its two spellings: the page URL's query string (so a
 * view can be bookmarked, shared and reached with the back button) and the API's query.
 * Defaults are left out of the URL so a plain `/` is the default view.
 */

/** The API's sort keys: the table's columns with these keys sort the list from their header. */
export const SORT_COLUMNS = ["id", "type", "state", "created_at", "updated_at"];
export const PER_PAGE_CHOICES = [10, 25, 50, 100];
export const DEFAULT_PER_PAGE = 25;
/** Without a search the newest activity comes first; a search ranks by match location. */
export const DEFAULT_SORT = { sort: "updated_at", order: "desc" };

const FILTERS = ["type", "state", "creator_id", "company_id"];
const DATE_RANGES = ["created_from", "created_to", "updated_from", "updated_to"];
/** Every list-state key that narrows the list (what "Clear filters" empties). */
export const FILTER_NAMES = [...FILTERS, ...DATE_RANGES];
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

export function emptyListState() {
  return {
    q: "",
    type: "",
    state: "",
    creator_id: "",
    company_id: "",
    created_from: "",
    created_to: "",
    updated_from: "",
    updated_to: "",
    sort: "",
    order: "",
    page: 1,
    per_page: DEFAULT_PER_PAGE,
  };
}

/** Read a list state from a query string, dropping anything malformed. */
export function parseListState(search) {
  const params = new URLSearchParams(search);
  const state = emptyListState();
  state.q = (params.get("q") ?? "").slice(0, 200);
  for (const name of FILTERS) state[name] = params.get(name) ?? "";
  for (const name of DATE_RANGES) {
    const value = params.get(name) ?? "";
    state[name] = ISO_DATE.test(value) && isRealDate(value) ? value : "";
  }
  const sort = params.get("sort");
  if (SORT_COLUMNS.includes(sort)) {
    state.sort = sort;
    state.order = params.get("order") === "desc" ? "desc" : "asc";
  }
  state.page = positiveInteger(params.get("page"), 1);
  const perPage = positiveInteger(params.get("per_page"), DEFAULT_PER_PAGE);
  state.per_page = PER_PAGE_CHOICES.includes(perPage) ? perPage : DEFAULT_PER_PAGE;
  return state;
}

/** The query string (with its "?", or "" for the default view) for a list state. */
export function listStateToSearch(state) {
  const params = new URLSearchParams();
  if (state.q.trim()) params.set("q", state.q);
  for (const name of FILTER_NAMES) if (state[name]) params.set(name, state[name]);
  if (state.sort) {
    params.set("sort", state.sort);
    params.set("order", state.order || "asc");
  }
  if (state.page > 1) params.set("page", String(state.page));
  if (state.per_page !== DEFAULT_PER_PAGE) params.set("per_page", String(state.per_page));
  const text = params.toString();
  return text ? `?${text}` : "";
}

/**
 * The API query for a list state. Date filters are whole days in the user's time zone:
 * "from" is the first instant of its day, "to" the last, both sent as ISO 8601 UTC.
 */
export function listStateToApiParams(state, overrides = {}) {
  const params = new URLSearchParams();
  const q = state.q.trim();
  if (q) params.set("q", q);
  for (const name of FILTERS) if (state[name]) params.set(name, state[name]);
  for (const name of DATE_RANGES) {
    if (state[name]) params.set(name, dayBoundary(state[name], name.endsWith("_to")));
  }
  const sort = sortOf(state);
  if (sort) {
    params.set("sort", sort.sort);
    params.set("order", sort.order);
  }
  params.set("page", String(overrides.page ?? state.page));
  params.set("per_page", String(overrides.per_page ?? state.per_page));
  return params;
}

/** The sort in effect: the chosen one, else the default unless a search ranks the results. */
export function sortOf(state) {
  if (state.sort) return { sort: state.sort, order: state.order || "asc" };
  return state.q.trim() ? null : DEFAULT_SORT;
}

/** The state after clicking a column header: a new column sorts ascending, the same flips. */
export function toggledSort(state, column) {
  const current = sortOf(state);
  const order = current?.sort === column && current.order === "asc" ? "desc" : "asc";
  return { ...state, sort: column, order, page: 1 };
}

/** Whether any search or filter narrows the list (for the empty state's wording). */
export function isNarrowed(state) {
  return Boolean(state.q.trim()) || FILTER_NAMES.some((name) => state[name]);
}

function dayBoundary(isoDate, endOfDay) {
  const [year, month, day] = isoDate.split("-").map(Number);
  const local = endOfDay
    ? new Date(year, month - 1, day, 23, 59, 59, 999)
    : new Date(year, month - 1, day, 0, 0, 0, 0);
  return local.toISOString();
}

function isRealDate(isoDate) {
  const [year, month, day] = isoDate.split("-").map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

function positiveInteger(text, fallback) {
  const number = Number(text);
  return Number.isInteger(number) && number >= 1 && number <= 100_000 ? number : fallback;
}
