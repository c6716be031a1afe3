/**
 * Customer-visible custom attributes: their names and values on list items, and which of
 * them the user added to the table as columns, remembered in localStorage per browser.
 * Storage may be unavailable (privacy modes): the chooser then still works for the visit.
 */
const STORAGE_KEY = "portal.attributeColumns";
let remembered = null;

export function chosenAttributeColumns() {
  if (remembered) return [...remembered];
  try {
    const stored = JSON.parse(window.localStorage.getItem(STORAGE_KEY) ?? "[]");
    remembered = Array.isArray(stored) ? stored.filter((name) => typeof name === "string") : [];
  } catch {
    remembered = [];
  }
  return [...remembered];
}

export function chooseAttributeColumns(names) {
  remembered = [...new Set(names)];
  try {
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify(remembered));
  } catch {
    // Not persisted: the choice lasts for this visit only.
  }
}

/** The attribute value of a list item, or "" when the ticket has none by that name. */
export function attributeValue(item, name) {
  const found = (item.attributes ?? []).find((attribute) => attribute.name === name);
  return found ? String(found.value ?? "") : "";
}

/** Attribute names seen on the items, in first-seen order. */
export function attributeNames(items) {
  const names = new Set();
  for (const item of items)
    for (const attribute of item.attributes ?? []) names.add(attribute.name);
  return [...names];
}
