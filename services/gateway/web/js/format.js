/** Words and dates the customer reads. */
import { el } from "./dom.js";

export const STATES = [
  ["submitted", "Submitted"],
  ["in_progress", "In progress"],
  ["waiting_on_customer", "Waiting on you"],
  ["resolved", "Resolved"],
];
const STATE_LABELS = Object.fromEntries(STATES);

export function stateLabel(state) {
  return STATE_LABELS[state] ?? String(state ?? "");
}

export function stateBadge(state) {
  return el("span", { className: `state-badge state-${state}` }, stateLabel(state));
}

const MATCH_LOCATIONS = {
  title: "Title",
  description: "Description",
  reply: "Reply",
  message: "Message",
  conversation: "Conversation",
  id: "Ticket ID",
};

/** Where a search matched, e.g. "Reply". */
export function locationLabel(location) {
  const known = MATCH_LOCATIONS[location];
  if (known) return known;
  const text = String(location ?? "").replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const DATE_ONLY = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

/** A <time> with the local date (and time unless `dateOnly`) and the full moment on hover. */
export function timeElement(iso, { dateOnly = false } = {}) {
  const time = document.createElement("time");
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) {
    time.textContent = "—";
    return time;
  }
  time.dateTime = date.toISOString();
  time.textContent = (dateOnly ? DATE_ONLY : DATE_TIME).format(date);
  time.title = DATE_TIME.format(date);
  return time;
}

export function formatDateTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : DATE_TIME.format(date);
}

export function ticketNumber(id) {
  return `#${id}`;
}

/**
 * Facet entries as {value, label}: ticket types come as plain names, creators as {id, name}
 * records (one without a name is shown by its id).
 */
export function facetOptions(entries) {
  return entries.map((entry) =>
    typeof entry === "string"
      ? { value: entry, label: entry }
      : { value: entry.id, label: entry.name || entry.id },
  );
}

export function plural(count, one, many) {
  return `${count.toLocaleString()} ${count === 1 ? one : many}`;
}

/**
 * What the portal lists for the signed-in user (`GET /api/portal/me`), in words: every
 * ticket of their companies, or only the tickets they created there when the help desk's
 * visibility conditions restrict them (the server says which; the page never guesses).
 */
export function portalScope(me) {
  const names = new Intl.ListFormat("en", { style: "long", type: "conjunction" }).format(
    me.companies.map((company) => company.name),
  );
  return me.restricted_to_own_tickets
    ? {
        summary: `Tickets you created at ${names}`,
        caption: "Tickets you created",
        banner: `Back to the customer portal: the tickets you created at ${names}`,
      }
    : {
        summary: `All tickets of ${names}`,
        caption: "Your company’s tickets",
        banner: "Back to the customer portal: every ticket of your company",
      };
}
