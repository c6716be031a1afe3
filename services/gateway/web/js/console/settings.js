/**
 * Portal settings: the portal on or off, the preview column on or off, and the visibility
 * conditions as rows (attribute, operator, value). While a teammate edits the rows, the
 * console counts how many portal users each one matches and how many all of them restrict
 * (`POST /api/admin/portal/restricted-counts`), before anything is saved.
 */
import { el, replaceChildren } from "../dom.js";
import { adminApi } from "./admin-api.js";
import { selectField, viewFrame } from "./words.js";

const OPERATORS = [
  ["eq", "equals"],
  ["neq", "does not equal"],
  ["in", "is one of"],
];
const COUNT_DELAY_MS = 250;

/** A typed value from what was typed: true, false, null and numbers as such, else text. */
export function typedValue(text) {
  const trimmed = text.trim();
  if (/^(true|false|null)$/.test(trimmed) || /^-?[0-9]+(\.[0-9]+)?$/.test(trimmed)) {
    return JSON.parse(trimmed);
  }
  return trimmed;
}

export function valueText(value) {
  if (Array.isArray(value)) return value.map(valueText).join(", ");
  return value === null ? "null" : String(value);
}

export function mountSettings(root, context) {
  const portal = el("input", { type: "checkbox", id: "portal-enabled" });
  const preview = el("input", { type: "checkbox", id: "preview-enabled" });
  const rows = el("div", { className: "condition-rows" });
  const total = el("p", { className: "condition-total", "aria-live": "polite" });
  const add = el("button", { type: "button", className: "button-secondary" }, "Add condition");
  const save = el("button", { type: "submit", className: "button-primary" }, "Save settings");
  const form = el(
    "form",
    { className: "settings-form" },
    el(
      "fieldset",
      {},
      el("legend", {}, "Customer portal"),
      el("label", { className: "check", for: "portal-enabled" }, portal, " The portal is on"),
      el(
        "p",
        { className: "hint" },
        "Off: customers are told the portal is turned off, and the Messenger hides its banner.",
      ),
      el(
        "label",
        { className: "check", for: "preview-enabled" },
        preview,
        " Show the preview column",
      ),
    ),
    el(
      "fieldset",
      {},
      el("legend", {}, "Visibility conditions"),
      el(
        "p",
        { className: "hint" },
        "A user who matches every condition sees only the tickets they created.",
      ),
      rows,
      add,
      total,
    ),
    save,
  );
  const { status } = viewFrame(root, "Portal settings", form);
  let countTimer = null;
  let counting = null;

  function conditionRow(condition, index) {
    const attribute = el("input", {
      id: `condition-attribute-${index}`,
      value: condition.attribute,
      required: true,
      autocomplete: "off",
    });
    const { field: operatorField, select: operator } = selectField(
      `condition-operator-${index}`,
      "Operator",
      OPERATORS,
      condition.operator,
    );
    const value = el("input", {
      id: `condition-value-${index}`,
      value: valueText(condition.value),
      autocomplete: "off",
    });
    const count = el("p", { className: "condition-count", "data-count": "" });
    const remove = el("button", { type: "button", className: "button-link" }, "Remove");
    const row = el(
      "fieldset",
      { className: "condition-row" },
      el("legend", {}, `Condition ${index + 1}`),
      el("div", { className: "field" }, el("label", { for: attribute.id }, "Attribute"), attribute),
      operatorField,
      el("div", { className: "field" }, el("label", { for: value.id }, "Value"), value),
      remove,
      count,
    );
    remove.addEventListener("click", () => {
      const conditions = readConditions().filter((_, i) => i !== index);
      drawRows(conditions);
      add.focus();
    });
    return row;
  }

  function readConditions() {
    return [...rows.querySelectorAll(".condition-row")].map((row) => {
      const [attribute, value] = row.querySelectorAll("input");
      const operator = row.querySelector("select").value;
      const typed =
        operator === "in"
          ? value.value
              .split(",")
              .filter((part) => part.trim())
              .map(typedValue)
          : typedValue(value.value);
      return { attribute: attribute.value.trim(), operator, value: typed };
    });
  }

  function drawRows(conditions) {
    replaceChildren(rows, conditions.map(conditionRow));
    countSoon();
  }

  function countSoon() {
    clearTimeout(countTimer);
    countTimer = setTimeout(count, COUNT_DELAY_MS);
  }

  async function count() {
    const conditions = readConditions();
    if (conditions.some((condition) => !condition.attribute)) {
      total.textContent = "Name an attribute in every condition to count the users.";
      return;
    }
    counting?.abort();
    counting = new AbortController();
    try {
      const counts = await adminApi("/api/admin/portal/restricted-counts", {
        method: "POST",
        body: { visibility_conditions: conditions },
        signal: counting.signal,
      });
      rows.querySelectorAll("[data-count]").forEach((line, i) => {
        line.textContent = `Matches ${counts.conditions[i]} of ${counts.users} portal users`;
      });
      total.textContent = conditions.length
        ? `Together these conditions restrict ${counts.restricted} of ${counts.users} portal ` +
          "users to the tickets they created."
        : `No conditions: all ${counts.users} portal users see every ticket of their companies.`;
    } catch (error) {
      if (error.name === "AbortError") return;
      if (error.status === 401) return context.signedOut();
      total.textContent = error.message;
    }
  }

  async function load() {
    status.textContent = "Loading the settings…";
    try {
      const settings = await adminApi("/api/admin/portal/settings");
      portal.checked = settings.portal_enabled;
      preview.checked = settings.preview_enabled;
      drawRows(settings.visibility_conditions);
      status.textContent = "";
    } catch (error) {
      if (error.status === 401) return context.signedOut();
      status.textContent = "The settings could not be loaded.";
    }
  }

  rows.addEventListener("input", countSoon);
  rows.addEventListener("change", countSoon);
  add.addEventListener("click", () => {
    drawRows([...readConditions(), { attribute: "", operator: "eq", value: "" }]);
    rows.querySelector(".condition-row:last-of-type input")?.focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "Saving…";
    try {
      const saved = await adminApi("/api/admin/portal/settings", {
        method: "PUT",
        body: {
          portal_enabled: portal.checked,
          preview_enabled: preview.checked,
          visibility_conditions: readConditions(),
        },
      });
      drawRows(saved.visibility_conditions);
      status.textContent = `Saved. The portal is ${saved.portal_enabled ? "on" : "off"}.`;
    } catch (error) {
      if (error.status === 401) return context.signedOut();
      status.textContent = `Not saved: ${error.message}`;
    }
  });
  load();
  return { unmount: () => clearTimeout(countTimer) };
}
