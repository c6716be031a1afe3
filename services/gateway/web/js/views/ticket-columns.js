/**
 * The ticket table's columns. Each column object owns its header cell, its table cell and
 * its CSV values, so a new column is one more object in `visibleColumns`' list and nothing
 * else. The customer-visible attributes the user chose become columns of the same kind.
 */
import { attributeNames, attributeValue, chosenAttributeColumns } from "../attributes.js";
import { el } from "../dom.js";
import {
  formatDateTime,
  locationLabel,
  stateBadge,
  stateLabel,
  ticketNumber,
  timeElement,
} from "../format.js";
import { highlightedFragment, highlightedText } from "../highlight.js";
import { SORT_COLUMNS } from "../query.js";

/**
 * A column: `text(item)` is its plain value (the CSV's, and the cell's unless `content`
 * draws something richer); the `rowHeader` column names its row. A column whose key is one
 * of the API's sort keys sorts the list from its header.
 */
function column({
  key,
  label,
  text,
  content = text,
  csvHeaders = [label],
  csvValues = (item) => [text(item)],
  rowHeader = false,
  className = `col-${key.replaceAll("_", "-")}`,
}) {
  const sortable = SORT_COLUMNS.includes(key);
  return {
    key,
    label,
    csvHeaders,
    csvValues,

    /** The header cell; a sortable one is a button showing the sort in effect (`sortOf`). */
    header(sort) {
      const th = el("th", { scope: "col", role: "columnheader", className });
      if (!sortable) {
        th.textContent = label;
        return th;
      }
      const sorted = sort?.sort === key;
      if (sorted) th.setAttribute("aria-sort", sort.order === "asc" ? "ascending" : "descending");
      const indicator = sorted ? (sort.order === "asc" ? "▲" : "▼") : "↕";
      th.append(
        el(
          "button",
          {
            type: "button",
            className: `sort-button${sorted ? " is-sorted" : ""}`,
            dataset: { sort: key, focusKey: `sort-${key}` },
          },
          label,
          el("span", { className: "sort-indicator", "aria-hidden": "true" }, indicator),
        ),
      );
      return th;
    },

    /** The item's cell; `data-label` names it where a narrow screen shows rows as cards. */
    cell(item) {
      const shared = { className, dataset: { label } };
      return rowHeader
        ? el("th", { scope: "row", role: "rowheader", ...shared }, content(item))
        : el("td", { role: "cell", ...shared }, content(item));
    },
  };
}

const ID = column({
  key: "id",
  label: "ID",
  text: (item) => ticketNumber(item.id),
});

const TITLE = column({
  key: "title",
  label: "Title",
  rowHeader: true,
  text: (item) => item.title ?? "",
  content: (item) =>
    el(
      "a",
      {
        href: `/tickets/${encodeURIComponent(item.id)}`,
        dataset: { focusKey: `ticket-${item.id}` },
      },
      item.title,
    ),
});

/** Where a search matched; the CSV spells the preview out in three columns. */
const PREVIEW = column({
  key: "preview",
  label: "Preview",
  content: (item) => preview(item.preview),
  csvHeaders: ["Match in", "Preview", "Preview author"],
  csvValues: (item) =>
    item.preview
      ? [
          locationLabel(item.preview.location),
          highlightedText(item.preview.html),
          item.preview.author_name ?? "",
        ]
      : ["", "", ""],
});

const TYPE = column({
  key: "type",
  label: "Type",
  text: (item) => String(item.type ?? ""),
});

const STATE = column({
  key: "state",
  label: "State",
  text: (item) => stateLabel(item.state),
  content: (item) => stateBadge(item.state),
});

const CREATED_AT = dateColumn("created_at", "Created on");
const UPDATED_AT = dateColumn("updated_at", "Last updated");

const COMPANY = column({
  key: "company",
  label: "Company",
  text: (item) => item.company?.name ?? "",
});

/** A day in the table, the exact ISO 8601 moment in the CSV. */
function dateColumn(key, label) {
  return column({
    key,
    label,
      text: (item) => item[key] ?? "",
    content: (item) => timeElement(item[key], { dateOnly: true }),
  });
}

function attributeColumn(name) {
  return column({
    key: `attribute:${name}`,
    label: name,
    className: "col-attribute",
    text: (item) => attributeValue(item, name),
  });
}

/**
 * The columns for these items, in order. The server sends previews only while searching
 * and only when the teammates' setting is on, so a change of the setting shows on the next
 * refresh; the company only matters to a member of several; attribute columns are the
 * chosen ones that some of these tickets have.
 */
export function visibleColumns(items, { severalCompanies }) {
  const present = new Set(attributeNames(items));
  return [
    ID,
    TITLE,
    ...(items.some((item) => item.preview) ? [PREVIEW] : []),
    TYPE,
    STATE,
    CREATED_AT,
    UPDATED_AT,
    ...(severalCompanies ? [COMPANY] : []),
    ...chosenAttributeColumns()
      .filter((name) => present.has(name))
      .map(attributeColumn),
  ];
}

/** The CSV rows (header first) of these items in these columns. */
export function csvRows(items, columns) {
  return [
    columns.flatMap((each) => each.csvHeaders),
    ...items.map((item) => columns.flatMap((each) => each.csvValues(item))),
  ];
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
