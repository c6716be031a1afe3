/**
 * One ticket: state, ID, type, title, description, customer-visible attributes, company,
 * creator, times and the customer-visible conversation, with the way into the Messenger.
 */
import { api } from "../api.js";
import { append, el, fromTemplate, replaceChildren, slotFinder } from "../dom.js";
import { stateLabel, ticketNumber, timeElement } from "../format.js";
import { liveLoader } from "../live.js";
import { conversationParts, joinButton } from "./conversation.js";
import { mountNotificationSettings } from "./notification-settings.js";

export function mountDetails(root, app, ticketId) {
  const view = fromTemplate("tpl-details");
  const slot = slotFinder(view);
  slot("back").href = app.listUrl();
  root.replaceChildren(view);
  mountNotificationSettings(slot("notifications"));

  const live = liveLoader({
    read: (signal) => api(`/api/portal/tickets/${encodeURIComponent(ticketId)}`, { signal }),
    render: (answer, { quiet }) => {
      render(answer);
      if (!quiet) slot("title").focus({ preventScroll: true });
    },
    // A ticket that goes away (or never loads) ends the view: nothing more to refresh.
    failed: (error, { quiet }) => {
      if (quiet && error.status !== 404) return;
      live.stop();
      showProblem(error);
    },
    signedOut: app.signedOut,
  });
  live.show();

  function showProblem(error) {
    const missing = error.status === 404;
    const heading = el(
      "h1",
      { tabindex: "-1" },
      missing ? "Ticket not found" : "Ticket not available",
    );
    slot("content").hidden = true;
    slot("status").replaceWith(
      el(
        "div",
        { className: "problem" },
        heading,
        el(
          "p",
          { role: "status" },
          missing
            ? "This ticket does not exist, or it is not shared with you."
            : "We couldn’t load this ticket. Check your connection and try again.",
        ),
      ),
    );
    heading.focus({ preventScroll: true });
  }

  function render(ticket) {
    document.title = `${ticketNumber(ticket.id)} ${ticket.title} · Customer portal`;
    slot("status").textContent = "";
    slot("status").hidden = true;
    slot("content").hidden = false;
    const badge = slot("state");
    badge.className = `state-badge state-${ticket.state}`;
    badge.textContent = stateLabel(ticket.state);
    slot("id").textContent = ticketNumber(ticket.id);
    slot("type").textContent = ticket.type;
    slot("title").textContent = ticket.title;
    slot("description").textContent = ticket.description || "No description.";
    replaceChildren(slot("facts"), facts(ticket));
    replaceChildren(slot("conversation"), conversationParts(ticket.conversation));
    replaceChildren(slot("actions"), actions(ticket));
    replaceChildren(slot("state-actions"), stateAction(ticket));
  }

  /** Resolve a ticket that is not resolved, or reopen a resolved one (as the server allows). */
  function stateAction(ticket) {
    const resolved = ticket.state === "resolved";
    const action = resolved ? "reopen" : "resolve";
    const button = el(
      "button",
      {
        type: "button",
        className: "button-secondary",
        id: `${action}-ticket`,
        dataset: { focusKey: "state-action" },
      },
      resolved ? "Reopen ticket" : "Mark as resolved",
    );
    button.addEventListener("click", async () => {
      const status = slot("state-status");
      button.disabled = true;
      status.classList.remove("is-problem");
      status.textContent = resolved ? "Reopening…" : "Resolving…";
      try {
        // A cookie-authenticated change must carry a JSON body (the gateway's CSRF guard).
        await api(`/api/portal/tickets/${encodeURIComponent(ticket.id)}/${action}`, {
          method: "POST",
          body: {},
        });
        status.textContent = resolved
          ? "You reopened this ticket. The team will pick it up again."
          : "You marked this ticket as resolved.";
        await live.check();
      } catch (error) {
        button.disabled = false;
        if (error.status === 401) return app.signedOut();
        status.classList.add("is-problem");
        status.textContent = `The ticket was not changed: ${error.message}`;
      }
    });
    return button;
  }

  function actions(ticket) {
    if (!ticket.conversation_id) {
      return el("p", { className: "hint" }, "This ticket has no conversation yet.");
    }
    const message = el(
      "a",
      {
        className: ticket.participant ? "button-primary" : "button-secondary",
        href: ticket.messenger_url,
        id: "send-message",
      },
      "Send us a message",
    );
    if (ticket.participant) return message;
    const status = slot("action-status");
    return [
      message,
      joinButton(ticket.id, status, () => live.check(), app.signedOut),
      el("p", { className: "hint" }, "Join to follow this ticket in your Messenger tickets space."),
    ];
  }

  return {
    refresh: () => live.refresh(),
    unmount: () => live.stop(),
  };
}

function facts(ticket) {
  // State, ID and type are in the header above: each is said once.
  const rows = [
    ["Company", ticket.company?.name ?? "—"],
    ["Created by", ticket.creator?.name ?? "—"],
    ["Created on", timeElement(ticket.created_at)],
    ["Last updated", timeElement(ticket.updated_at)],
    ...(ticket.attributes ?? []).map((attribute) => [
      attribute.name,
      String(attribute.value ?? ""),
    ]),
  ];
  return rows.map(([term, value]) =>
    append(el("div", { className: "fact" }), el("dt", {}, term), el("dd", {}, value)),
  );
}
