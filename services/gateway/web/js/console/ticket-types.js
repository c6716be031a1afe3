/**
 * Ticket types and their forms: each type's fields as teammates define them, whether
 * customers may create it (switched here, `PATCH /api/admin/ticket-types/<id>`), and a
 * preview of the "New ticket" form as a customer sees it (only the customer-visible fields).
 */
import { el, replaceChildren } from "../dom.js";
import { adminApi } from "./admin-api.js";
import { viewFrame } from "./words.js";

export function mountTicketTypes(root, context) {
  const list = el("div", { className: "ticket-types" });
  const { status } = viewFrame(root, "Ticket types", list);

  async function load() {
    status.textContent = "Loading ticket types…";
    try {
      const { items } = await adminApi("/api/admin/ticket-types");
      status.textContent = items.length ? "" : "No ticket types yet.";
      replaceChildren(list, items.map(typeSection));
    } catch (error) {
      if (error.status === 401) return context.signedOut();
      status.textContent = `The ticket types could not be loaded: ${error.message}`;
    }
  }

  function typeSection(type) {
    const headingId = `type-${type.id}`;
    const creatable = el("input", { type: "checkbox", id: `creatable-${type.id}` });
    creatable.checked = type.customer_creatable;
    creatable.addEventListener("change", async () => {
      status.textContent = "Saving…";
      try {
        await adminApi(`/api/admin/ticket-types/${encodeURIComponent(type.id)}`, {
          method: "PATCH",
          body: { customer_creatable: creatable.checked },
        });
        await load();
        status.textContent = `${type.name}: customers ${creatable.checked ? "may" : "may not"} create it.`;
      } catch (error) {
        if (error.status === 401) return context.signedOut();
        status.textContent = `Not saved: ${error.message}`;
      }
    });
    return el(
      "section",
      { className: "ticket-type", "aria-labelledby": headingId },
      el("h2", { id: headingId }, type.name),
      type.description ? el("p", {}, type.description) : null,
      el("label", { className: "check", for: creatable.id }, creatable, " Customers may create it"),
      fieldsTable(type),
      el("h3", {}, "The form as a customer sees it"),
      preview(type),
    );
  }

  load();
  return {};
}

function fieldsTable(type) {
  if (!type.attributes.length)
    return el("p", { className: "hint" }, "No fields besides title and description.");
  const headers = ["Field", "Key", "Kind", "Required", "Customer sees it"];
  return el(
    "table",
    { className: "ticket-table console-table" },
    el("caption", { className: "visually-hidden" }, `Fields of ${type.name}`),
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        headers.map((h) => el("th", { scope: "col" }, h)),
      ),
    ),
    el(
      "tbody",
      {},
      type.attributes.map((field) =>
        el(
          "tr",
          {},
          el("th", { scope: "row" }, field.label),
          el("td", {}, field.key),
          el("td", {}, field.type),
          el("td", {}, field.required ? "Yes" : "No"),
          el("td", {}, field.visible_to_customer ? "Yes" : "No (internal)"),
        ),
      ),
    ),
  );
}

/** The customer's form, inert: title, description and the customer-visible fields. */
function preview(type) {
  const prefix = `preview-${type.id}`;
  const fields = [
    { key: "title", label: "Title", type: "text", required: true },
    { key: "description", label: "Description", type: "textarea", required: false },
    ...type.attributes.filter((field) => field.visible_to_customer),
  ];
  return el(
    "fieldset",
    { className: "form-preview", disabled: true },
    el("legend", {}, `New ticket: ${type.name}`),
    fields.map((field) => previewField(prefix, field)),
    type.customer_creatable
      ? null
      : el("p", { className: "hint" }, "Customers cannot create this type now."),
  );
}

function previewField(prefix, field) {
  const id = `${prefix}-${field.key}`.replace(/[^A-Za-z0-9_-]/g, "_");
  const label = `${field.label}${field.required ? " (required)" : ""}`;
  if (field.type === "boolean") {
    return el(
      "label",
      { className: "check", for: id },
      el("input", { type: "checkbox", id }),
      ` ${label}`,
    );
  }
  let control;
  if (field.type === "select") {
    control = el(
      "select",
      { id },
      (field.options ?? []).map((option) => el("option", {}, String(option))),
    );
  } else if (field.type === "textarea") {
    control = el("textarea", { id, rows: "3" });
  } else {
    control = el("input", { id, type: { number: "number", date: "date" }[field.type] ?? "text" });
  }
  return el("div", { className: "field" }, el("label", { for: id }, label), control);
}
