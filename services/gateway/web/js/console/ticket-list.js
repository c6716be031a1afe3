/**
 * A list of tickets as teammates see it, for the inbox and a company's Tickets tab: the
 * table (the Company column optional), its caption and count, and a pager shown only when
 * the tickets do not fit on one page.
 */
import { el } from "../dom.js";
import { ticketNumber, timeElement } from "../format.js";
import { stateBadge } from "./words.js";

/** `answer` is a TicketList (`items`, `total`, `page`, `per_page`). */
export function ticketTable(answer, { caption, showCompany, onPage }) {
  const headers = ["ID", "Title", "Type", "State", ...(showCompany ? ["Company"] : [])];
  headers.push("Created by", "Last updated");
  const table = el(
    "table",
    { className: "ticket-table console-table" },
    el("caption", { className: "visually-hidden" }, caption),
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        headers.map((name) => el("th", { scope: "col" }, name)),
      ),
    ),
    el(
      "tbody",
      {},
      answer.items.map((item) => row(item, showCompany)),
    ),
  );
  const pages = Math.max(1, Math.ceil(answer.total / answer.per_page));
  return [
    el("p", { className: "result-count" }, countText(answer)),
    answer.items.length ? el("div", { className: "table-region" }, table) : emptyState(),
    pages > 1 ? pager(answer.page, pages, onPage) : null,
  ];
}

function row(item, showCompany) {
  const company = item.company
    ? el(
        "a",
        { href: `/admin/companies/${encodeURIComponent(item.company.id)}` },
        item.company.name ?? item.company.id,
      )
    : el("span", { className: "no-company" }, "No company");
  return el(
    "tr",
    {},
    el("td", { className: "col-id" }, ticketNumber(item.id)),
    el("th", { scope: "row" }, el("a", { href: `/admin/tickets/${item.id}` }, item.title)),
    el("td", {}, item.type),
    el("td", {}, stateBadge(item.state)),
    showCompany ? el("td", {}, company) : null,
    el("td", {}, item.creator?.name ?? item.creator?.id ?? "—"),
    el("td", {}, timeElement(item.updated_at)),
  );
}

function countText(answer) {
  if (!answer.total) return "No tickets";
  const first = (answer.page - 1) * answer.per_page + 1;
  const last = first + answer.items.length - 1;
  return `${first}–${last} of ${answer.total} tickets`;
}

function emptyState() {
  return el("p", { className: "empty-state" }, "No tickets match.");
}

function pager(page, pages, onPage) {
  const previous = el(
    "button",
    { type: "button", className: "button-secondary", disabled: page <= 1 },
    "Previous page",
  );
  const next = el(
    "button",
    { type: "button", className: "button-secondary", disabled: page >= pages },
    "Next page",
  );
  previous.addEventListener("click", () => onPage(page - 1));
  next.addEventListener("click", () => onPage(page + 1));
  return el(
    "nav",
    { className: "pagination", "aria-label": "Pages" },
    previous,
    el("span", {}, `Page ${page} of ${pages}`),
    next,
  );
}
