/**
 * "New ticket": a form built from the ticket type the user picks (only the fields customers
 * may fill in), checked here as the server checks it, each problem shown next to its field
 * (aria-invalid, aria-describedby) with a summary that takes the focus. The same form serves
 * the portal and the Messenger tickets space (`?from=messenger`), and goes back to where it
 * came from with the new ticket shown at once (the answer's store position is sent back).
 */
import { api } from "../api.js";
import { append, el, fromTemplate, replaceChildren, slotFinder } from "../dom.js";
import { checkTicket } from "../form-checks.js";

export function mountNewTicket(root, app) {
  const view = fromTemplate("tpl-new-ticket");
  const slot = slotFinder(view);
  const fromMessenger = new URLSearchParams(window.location.search).get("from") === "messenger";
  slot("back").href = fromMessenger ? "/messenger" : app.listUrl();
  slot("back").textContent = fromMessenger ? "← Your tickets" : "← All tickets";
  root.replaceChildren(view);
  slot("heading").focus({ preventScroll: true });

  const form = slot("form");
  const typeSelect = form.elements.type;
  let types = [];
  // One key for this form's ticket: a retried or doubled submit creates it once.
  let idempotencyKey = crypto.randomUUID();

  load();

  async function load() {
    try {
      types = (await api("/api/portal/ticket-types")).items;
    } catch (error) {
      if (error.status === 401) return app.signedOut();
      slot("status").textContent = "We couldn’t load the ticket types. Try again in a moment.";
      return;
    }
    if (!types.length) {
      slot("status").textContent = "There is no ticket type you can create yet.";
      return;
    }
    slot("status").hidden = true;
    for (const type of types) append(typeSelect, el("option", { value: type.id }, type.name));
    showCompanies(app.me?.companies ?? []);
    typeSelect.addEventListener("change", showFields);
    showFields();
    form.hidden = false;
    form.addEventListener("submit", submit);
  }

  function showCompanies(companies) {
    if (companies.length < 2) return;
    const select = form.elements.company_id;
    for (const company of companies) {
      append(select, el("option", { value: company.id }, company.name || company.id));
    }
    slot("company-field").hidden = false;
  }

  function chosenType() {
    return types.find((type) => type.id === typeSelect.value);
  }

  function showFields() {
    const type = chosenType();
    slot("type-description").textContent = type?.description ?? "";
    replaceChildren(slot("fields"), (type?.attributes ?? []).map(formField));
  }

  function answers() {
    const values = {};
    for (const field of chosenType()?.attributes ?? []) {
      const input = form.elements[`attr-${field.key}`];
      if (field.type === "boolean") values[field.key] = input.checked;
      else if (field.type === "number") {
        values[field.key] = input.value.trim() === "" ? null : Number(input.value);
      } else values[field.key] = input.value;
    }
    return values;
  }

  async function submit(event) {
    event.preventDefault();
    const { body, problems } = checkTicket(chosenType(), {
      title: form.elements.title.value,
      description: form.elements.description.value,
      answers: answers(),
      companyId: form.elements.company_id.value,
    });
    if (showProblems(problems)) return;
    const button = slot("submit");
    button.disabled = true;
    slot("result").textContent = "Creating your ticket…";
    try {
      const ticket = await api("/api/portal/tickets", {
        method: "POST",
        body,
        headers: { "Idempotency-Key": idempotencyKey },
      });
      idempotencyKey = crypto.randomUUID();
      created(ticket);
    } catch (error) {
      button.disabled = false;
      slot("result").textContent = "";
      if (error.status === 401) return app.signedOut();
      if (error.status === 422 && showProblems(error.fields)) return;
      showProblems({ "": `Your ticket was not created: ${error.message}` });
    }
  }

  function created(ticket) {
    const inPortal = ticket.company_id && !fromMessenger;
    app.navigate(inPortal ? `/tickets/${encodeURIComponent(ticket.id)}` : "/messenger", {
      created: ticket.id,
    });
  }

  /** Mark each field with a problem; a summary takes the focus. True if there were any. */
  function showProblems(problems) {
    for (const input of form.querySelectorAll("[aria-invalid]")) {
      input.removeAttribute("aria-invalid");
      input.setAttribute("aria-describedby", input.dataset.hintId ?? "");
      if (!input.dataset.hintId) input.removeAttribute("aria-describedby");
    }
    for (const message of form.querySelectorAll(".field-error")) message.remove();
    const entries = Object.entries(problems ?? {});
    const summary = slot("summary");
    if (!entries.length) {
      summary.hidden = true;
      return false;
    }
    const items = entries.map(([name, problem]) => {
      const input = inputFor(name);
      const text = input ? `${labelOf(input)}: ${problem}` : problem;
      if (input) markInvalid(input, problem);
      if (!input) return el("li", {}, text);
      // Straight to the field, without the router or a change of URL.
      const link = el("a", { href: `#${input.id}` }, text);
      link.addEventListener("click", (event) => {
        event.preventDefault();
        input.focus();
      });
      return el("li", {}, link);
    });
    replaceChildren(
      summary,
      el("h2", { id: "problem-heading", tabindex: "-1" }, "Please correct the form"),
      el("ul", {}, items),
    );
    summary.hidden = false;
    summary.querySelector("h2").focus();
    return true;
  }

  function inputFor(name) {
    const id = name.startsWith("attributes.")
      ? fieldId(name.slice("attributes.".length))
      : `new-ticket-${name.replace("_id", "")}`;
    return document.getElementById(id);
  }

  function labelOf(input) {
    return form.querySelector(`label[for="${CSS.escape(input.id)}"]`)?.textContent ?? input.name;
  }
}

function markInvalid(input, problem) {
  const messageId = `${input.id}-error`;
  input.setAttribute("aria-invalid", "true");
  const described = [input.dataset.hintId, messageId].filter(Boolean).join(" ");
  input.setAttribute("aria-describedby", described);
  input.closest(".form-field").append(el("p", { className: "field-error", id: messageId }, problem));
}

/**
 * The element id of a form field: a key may hold spaces, which an id (and so
 * aria-describedby, a list of ids) cannot; each character but A-Z a-z 0-9 _ is spelled out.
 */
function fieldId(key) {
  const safe = key.replace(/[^A-Za-z0-9_]/g, (c) => `-${c.charCodeAt(0).toString(16)}-`);
  return `new-ticket-attr-${safe}`;
}

/** One field of the type's form, as a labelled control. */
function formField(field) {
  const id = fieldId(field.key);
  const name = `attr-${field.key}`;
  // The page checks the form itself (the form is novalidate), so "required" is said to
  // assistive technology rather than left to the browser's own bubbles.
  const required = field.required ? "true" : undefined;
  const label = el("label", { for: id }, field.label, field.required ? " (required)" : "");
  let control;
  if (field.type === "select") {
    control = el(
      "select",
      { id, name, "aria-required": required },
      el("option", { value: "" }, field.required ? "Choose…" : "None"),
      field.options.map((option) => el("option", { value: option }, option)),
    );
  } else if (field.type === "boolean") {
    control = el("input", { id, name, type: "checkbox" });
    return el("div", { className: "form-field form-check" }, control, label);
  } else {
    const types = { number: "number", date: "date", text: "text" };
    const extra = field.type === "number" ? { step: "any" } : { maxlength: 1000 };
    control = el("input", { id, name, type: types[field.type], "aria-required": required, ...extra });
  }
  return el("div", { className: "form-field" }, label, control);
}
