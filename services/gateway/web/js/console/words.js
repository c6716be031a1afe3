/** What teammates read: states in their words, a view's heading and its status line. */
import { el } from "../dom.js";

export const STATES = [
  ["submitted", "Submitted"],
  ["in_progress", "In progress"],
  ["waiting_on_customer", "Waiting on customer"],
  ["resolved", "Resolved"],
];
const LABELS = Object.fromEntries(STATES);

export function stateLabel(state) {
  return LABELS[state] ?? String(state ?? "");
}

export function stateBadge(state) {
  return el("span", { className: `state-badge state-${state}` }, stateLabel(state));
}

/** A view's frame: its h1 (focusable, so a route change can move the focus there) and a
 * polite status line for loading, saving and failures. */
export function viewFrame(root, heading, ...content) {
  const title = el("h1", { tabindex: "-1" }, heading);
  const status = el("p", { className: "status-message", role: "status" });
  const view = el("section", { className: "console-view" }, title, status, ...content);
  root.replaceChildren(view);
  document.title = `${heading} · Help desk console`;
  return { view, title, status };
}

/** A `<select>` with its `<label>`, in one field. */
export function selectField(id, label, options, value = "") {
  const select = el(
    "select",
    { id, name: id },
    options.map(([optionValue, text]) =>
      el("option", { value: optionValue, selected: optionValue === value }, text),
    ),
  );
  return {
    field: el("div", { className: "field" }, el("label", { for: id }, label), select),
    select,
  };
}
