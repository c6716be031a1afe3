/**
 * The "Columns" chooser: one checkbox per customer-visible attribute of the listed tickets
 * (and any the user chose before), ticked for those shown as columns.
 */
import { attributeNames, chosenAttributeColumns } from "../attributes.js";
import { el, replaceChildren } from "../dom.js";

export function renderColumnChooser(container, items) {
  const names = [...new Set([...attributeNames(items), ...chosenAttributeColumns()])].sort();
  const chosen = new Set(chosenAttributeColumns());
  const options = names.map((name, index) =>
    el(
      "div",
      { className: "check" },
      el("input", {
        type: "checkbox",
        id: `column-${index}`,
        value: name,
        checked: chosen.has(name),
        dataset: { focusKey: `column-${name}` },
      }),
      el("label", { for: `column-${index}` }, name),
    ),
  );
  replaceChildren(
    container,
    options.length
      ? options
      : el("p", { className: "hint" }, "These tickets have no custom attributes."),
  );
}

/** The attribute names ticked in the chooser. */
export function tickedColumns(container) {
  return [...container.querySelectorAll("input:checked")].map((box) => box.value);
}
