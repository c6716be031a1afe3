/**
 * The tickets view's controls: the search field, the filters (their choices from the facets
 * endpoint), and rows per page, kept in step with the list state the URL holds.
 */
import { el, slotFinder } from "../dom.js";
import { facetOptions, portalScope, STATES } from "../format.js";
import { FILTER_NAMES, PER_PAGE_CHOICES } from "../query.js";

/** Where the table keeps its columns (portal.css folds rows into cards below 48rem). */
const WIDE_SCREEN = "(min-width: 64rem)";

/**
 * Say whose tickets these are, and fill the choices that do not depend on the tickets:
 * states, companies, page sizes (`me` is `GET /api/portal/me`).
 */
export function fillFixedChoices(view, me) {
  const { companies } = me;
  const slot = slotFinder(view);
  // Wide screens have room for the filters above the table: show them unfolded.
  slot("filters-panel").open = window.matchMedia(WIDE_SCREEN).matches;
  slot("companies").textContent = portalScope(me).summary;
  slot("company-field").hidden = companies.length <= 1;
  fillSelect(
    view.querySelector("#filter-state"),
    STATES.map(([value, label]) => ({ value, label })),
  );
  fillSelect(
    view.querySelector("#filter-company"),
    companies.map((company) => ({ value: company.id, label: company.name })),
  );
  fillSelect(
    slot("per-page"),
    PER_PAGE_CHOICES.map((n) => ({ value: String(n), label: String(n) })),
    false,
  );
}

/** Put the state into the controls (after "back" or on a shared link), but not mid-typing. */
export function syncControls(view, state) {
  const slot = slotFinder(view);
  const search = view.querySelector("#ticket-search");
  if (search.value !== state.q && document.activeElement !== search) search.value = state.q;
  for (const control of slot("filters").elements) {
    if (control.name && control.name in state) control.value = state[control.name];
  }
  slot("per-page").value = String(state.per_page);
  const count = FILTER_NAMES.filter((name) => state[name]).length;
  slot("filter-count").textContent = count ? `(${count} active)` : "";
}

/** The type and creator choices from `GET /api/portal/tickets/facets`. */
export function showFacets(view, facets, state) {
  updateOptions(view.querySelector("#filter-type"), facetOptions(facets.types), state);
  updateOptions(view.querySelector("#filter-creator"), facetOptions(facets.creators), state);
}

/** The state with every filter emptied (the search stays). */
export function clearedFilters(state) {
  return { ...state, ...Object.fromEntries(FILTER_NAMES.map((name) => [name, ""])), page: 1 };
}

/** Refresh a filter's options unless the user is in it; the chosen value always stays. */
function updateOptions(select, options, state) {
  if (document.activeElement === select) return;
  const chosen = state[select.name];
  if (chosen && !options.some((option) => option.value === chosen)) {
    options.push({ value: chosen, label: chosen });
  }
  fillSelect(select, options);
  select.value = chosen;
}

/** Replace a select's options, keeping its first ("Any …") one unless `keepFirst` is false. */
function fillSelect(select, options, keepFirst = true) {
  const first = keepFirst ? select.options[0] : null;
  select.replaceChildren(...(first ? [first] : []));
  for (const option of options) select.append(el("option", { value: option.value }, option.label));
}
