/**
 * Tiny DOM helpers. Every string becomes a text node, never markup, so text from tickets
 * can not inject HTML however it is spelled.
 */

/** Build an element: `el("a", {href: "/", className: "x"}, "text", child)`. */
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "className") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, ...children);
  return element;
}

/** Append children; strings and numbers become text nodes, null/false are skipped. */
export function append(parent, ...children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replace all children of `parent`. */
export function replaceChildren(parent, ...children) {
  parent.replaceChildren();
  return append(parent, ...children);
}

/** A deep copy of the `<template id=...>` content's first element. */
export function fromTemplate(id) {
  return document.getElementById(id).content.firstElementChild.cloneNode(true);
}

/** A finder for the view's `data-slot` elements: `slotFinder(view)("count")`. */
export function slotFinder(view) {
  return (name) => view.querySelector(`[data-slot="${name}"]`);
}

/**
 * Run `render` and put the focus back on the element that had it, found again by its
 * `data-focus-key` or id, so a live refresh never throws the keyboard user out of place.
 */
export function keepingFocus(render) {
  const active = document.activeElement;
  const key = active?.dataset?.focusKey;
  const id = active?.id;
  render();
  if (!active || document.activeElement === active || active.isConnected) return;
  const again = key
    ? document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`)
    : id && document.getElementById(id);
  again?.focus({ preventScroll: true });
}
