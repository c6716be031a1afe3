/**
 * "Export CSV": every page of the list the user is looking at (its search, filters and
 * sort), in the columns the table would show for those tickets.
 */
import { api } from "../api.js";
import { download, toCsv } from "../csv.js";
import { listStateToApiParams } from "../query.js";
import { csvRows, visibleColumns } from "./ticket-columns.js";

const EXPORT_PAGE_SIZE = 100;

/** Download the CSV of the list in `state`; the number of tickets exported. */
export async function exportTickets(state, { severalCompanies }) {
  const items = await allTickets(state);
  const columns = visibleColumns(items, { severalCompanies });
  download(`tickets-${new Date().toISOString().slice(0, 10)}.csv`, toCsv(csvRows(items, columns)));
  return items.length;
}

async function allTickets(state) {
  const items = [];
  for (let page = 1; ; page += 1) {
    const params = listStateToApiParams(state, { page, per_page: EXPORT_PAGE_SIZE });
    const result = await api(`/api/portal/tickets?${params}`);
    items.push(...result.items);
    if (result.items.length === 0 || items.length >= result.total) return items;
  }
}
