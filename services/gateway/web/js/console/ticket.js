/**
 * One ticket for teammates: its state, company, attributes and conversation (internal
 * notes marked as internal), with the company picker, a reply or note, and the
 * participants, each of whom a teammate can remove from the conversation.
 *
 * The company picker offers the participants' companies and "No company"; it says which
 * one the automatic rule gives (exactly one company: that one; several or none: No company)
 * and whether the current one is a teammate's choice.
 */
import { el, replaceChildren } from "../dom.js";
import { ticketNumber, timeElement } from "../format.js";
import { adminApi } from "./admin-api.js";
import { selectField, stateBadge, STATES, viewFrame } from "./words.js";

const NO_COMPANY = "";
const AUTHOR_KEY = "console-author-name";

/** The company the automatic rule gives for these choices ("" for No company). */
export function automaticCompany(choices) {
  return choices.length === 1 ? choices[0] : NO_COMPANY;
}

export function mountTicket(root, context, id) {
  const { view, status, title } = viewFrame(root, `Ticket ${ticketNumber(id)}`);
  const body = el("div", { className: "console-ticket" });
  view.append(body);
  let names = {};

  async function load() {
    status.textContent = "Loading the ticket…";
    try {
      const [ticket, choices, companies] = await Promise.all([
        adminApi(`/api/admin/tickets/${id}`),
        adminApi(`/api/admin/tickets/${id}/company-choices`),
        adminApi("/api/admin/companies"),
      ]);
      names = Object.fromEntries(companies.items.map((c) => [c.id, c.name]));
      const conversation = ticket.conversation_id
        ? await adminApi(`/api/admin/conversations/${encodeURIComponent(ticket.conversation_id)}`)
        : null;
      const people = await contacts(
        conversation ? conversation.participant_ids : ticket.participant_ids,
      );
      title.textContent = `${ticketNumber(ticket.id)} ${ticket.title}`;
      document.title = `${ticketNumber(ticket.id)} ${ticket.title} · Help desk console`;
      status.textContent = "";
      replaceChildren(
        body,
        el("p", { className: "ticket-meta" }, stateBadge(ticket.state), " ", ticket.type),
        el("p", { className: "description" }, ticket.description || "No description."),
        el(
          "div",
          { className: "console-columns" },
          el("div", {}, conversationSection(ticket, conversation, people)),
          el(
            "aside",
            { className: "details-facts", "aria-label": "Ticket settings" },
            stateSection(ticket),
            companySection(ticket, choices),
            attributesSection(ticket),
          ),
        ),
      );
    } catch (error) {
      if (error.status === 401) return context.signedOut();
      status.textContent =
        error.status === 404
          ? "This ticket does not exist."
          : `The ticket could not be loaded: ${error.message}`;
    }
  }

  async function contacts(ids) {
    const answers = await Promise.all(
      ids.map((contactId) =>
        adminApi(`/api/admin/contacts/${encodeURIComponent(contactId)}`).catch(() => ({
          id: contactId,
        })),
      ),
    );
    return Object.fromEntries(answers.map((c) => [c.id, c]));
  }

  async function change(update, done) {
    status.textContent = "Saving…";
    try {
      await adminApi(`/api/admin/tickets/${id}`, { method: "PATCH", body: update });
      await load();
      status.textContent = done;
    } catch (error) {
      if (error.status === 401) return context.signedOut();
      status.textContent = `Not saved: ${error.message}`;
    }
  }

  function stateSection(ticket) {
    const { field, select } = selectField("ticket-state", "State", STATES, ticket.state);
    const form = el(
      "form",
      {},
      field,
      el("button", { type: "submit", className: "button-secondary" }, "Change state"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      change({ state: select.value }, "State changed.");
    });
    return el(
      "section",
      { "aria-labelledby": "state-heading" },
      el("h2", { id: "state-heading" }, "State"),
      form,
    );
  }

  function companySection(ticket, choices) {
    const automatic = automaticCompany(choices.choices);
    const label = (companyId) => (companyId ? (names[companyId] ?? companyId) : "No company");
    const options = [...choices.choices, NO_COMPANY].map((companyId) => [
      companyId,
      `${label(companyId)}${companyId === automatic ? " (automatic rule)" : ""}`,
    ]);
    const { field, select } = selectField(
      "ticket-company",
      "Company",
      options,
      ticket.company_id ?? NO_COMPANY,
    );
    const form = el(
      "form",
      {},
      field,
      el("button", { type: "submit", className: "button-secondary" }, "Set company"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      change({ company_id: select.value || null }, "Company set.");
    });
    const how = choices.company_chosen
      ? "Chosen by a teammate: linking a conversation later keeps it."
      : "Set by the automatic rule: one participant company is selected; several mean No company until a teammate picks.";
    const link = ticket.company_id
      ? el(
          "p",
          {},
          el(
            "a",
            { href: `/admin/companies/${encodeURIComponent(ticket.company_id)}` },
            `Open ${label(ticket.company_id)}`,
          ),
        )
      : null;
    return el(
      "section",
      { "aria-labelledby": "company-heading" },
      el("h2", { id: "company-heading" }, "Company"),
      form,
      el("p", { className: "hint", id: "company-rule" }, how),
      link,
    );
  }

  function attributesSection(ticket) {
    const rows = ticket.attributes.map((attribute) =>
      el(
        "div",
        { className: "fact" },
        el("dt", {}, attribute.name),
        el(
          "dd",
          {},
          String(attribute.value ?? ""),
          attribute.visible_to_customer
            ? ""
            : el("span", { className: "internal-tag" }, " Internal"),
        ),
      ),
    );
    return el(
      "section",
      { "aria-labelledby": "attributes-heading" },
      el("h2", { id: "attributes-heading" }, "Attributes"),
      rows.length ? el("dl", {}, rows) : el("p", { className: "hint" }, "No attributes."),
      el(
        "dl",
        {},
        fact("Created", timeElement(ticket.created_at)),
        fact("Last updated", timeElement(ticket.updated_at)),
      ),
    );
  }

  function conversationSection(ticket, conversation, people) {
    const heading = el("h2", { id: "conversation-heading" }, "Conversation");
    if (!conversation) {
      return el(
        "section",
        { "aria-labelledby": "conversation-heading" },
        heading,
        el("p", { className: "hint" }, "No linked conversation."),
      );
    }
    const parts = conversation.parts.map((part) =>
      el(
        "li",
        { className: `part part-${part.author_type}${part.internal ? " part-internal" : ""}` },
        el(
          "p",
          { className: "part-meta" },
          el("span", { className: "part-author" }, part.author_name ?? part.author_id),
          part.internal ? el("span", { className: "internal-tag" }, "Internal note") : null,
          " ",
          timeElement(part.created_at),
        ),
        el("p", { className: "part-body" }, part.body),
      ),
    );
    return el(
      "section",
      { "aria-labelledby": "conversation-heading" },
      heading,
      el("ol", { className: "conversation" }, parts),
      composer(conversation.id),
      participantsSection(conversation, people),
    );
  }

  function composer(conversationId) {
    const text = el("textarea", { id: "part-body", rows: "4", required: true });
    const author = el("input", {
      id: "part-author",
      value: sessionStorage.getItem(AUTHOR_KEY) ?? "Support team",
      required: true,
      autocomplete: "name",
    });
    const note = el("input", { type: "checkbox", id: "part-internal" });
    const send = el("button", { type: "submit", className: "button-primary" }, "Send reply");
    note.addEventListener("change", () => {
      send.textContent = note.checked ? "Add note" : "Send reply";
    });
    const form = el(
      "form",
      { className: "composer" },
      el(
        "div",
        { className: "field" },
        el("label", { for: "part-body" }, "Reply or internal note"),
        text,
      ),
      el("div", { className: "field" }, el("label", { for: "part-author" }, "Your name"), author),
      el(
        "label",
        { className: "check", for: "part-internal" },
        note,
        " Internal note (teammates only)",
      ),
      send,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      sessionStorage.setItem(AUTHOR_KEY, author.value.trim());
      status.textContent = "Sending…";
      try {
        await adminApi(`/api/admin/conversations/${encodeURIComponent(conversationId)}/parts`, {
          method: "POST",
          body: {
            author_type: "teammate",
            author_id: "console",
            author_name: author.value.trim(),
            body: text.value,
            internal: note.checked,
          },
        });
        await load();
        status.textContent = note.checked ? "Note added." : "Reply sent.";
      } catch (error) {
        if (error.status === 401) return context.signedOut();
        status.textContent = `Not sent: ${error.message}`;
      }
    });
    return form;
  }

  function participantsSection(conversation, people) {
    const items = conversation.participant_ids.map((contactId) => {
      const person = people[contactId] ?? { id: contactId };
      const name = person.name || person.email || contactId;
      const remove = el("button", { type: "button", className: "button-link" }, `Remove ${name}`);
      remove.addEventListener("click", async () => {
        status.textContent = `Removing ${name}…`;
        try {
          await adminApi(
            `/api/admin/conversations/${encodeURIComponent(conversation.id)}/participants/${encodeURIComponent(contactId)}`,
            { method: "DELETE" },
          );
          await load();
          status.textContent = `${name} no longer takes part in this conversation.`;
        } catch (error) {
          if (error.status === 401) return context.signedOut();
          status.textContent = `Not removed: ${error.message}`;
        }
      });
      return el("li", {}, el("span", {}, name), " ", remove);
    });
    return el(
      "section",
      { "aria-labelledby": "participants-heading" },
      el("h2", { id: "participants-heading" }, "Participants"),
      el(
        "p",
        { className: "hint" },
        "A removed participant reads and replies only if the portal shows them this ticket (and then must join again).",
      ),
      el("ul", { className: "participants" }, items),
    );
  }

  load();
  return {};
}

function fact(term, value) {
  return el("div", { className: "fact" }, el("dt", {}, term), el("dd", {}, value));
}
