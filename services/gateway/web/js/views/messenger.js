/**
 * The Messenger side: the tickets space (tickets the user created or joined, any company)
 * with its banner back to the portal, and one ticket's conversation.
 */
import { ApiError, api } from "../api.js";
import { el, fromTemplate, keepingFocus, replaceChildren } from "../dom.js";
import { stateLabel, ticketNumber, timeElement } from "../format.js";
import { conversationParts, joinButton } from "./conversation.js";

function messengerShell(root, app, heading) {
  const view = fromTemplate("tpl-messenger");
  const slot = (name) => view.querySelector(`[data-slot="${name}"]`);
  slot("heading").textContent = heading;
  // The banner leads to the portal, so only users who may use the portal see it.
  slot("banner").hidden = !app.me;
  root.replaceChildren(view);
  return slot;
}

export function mountTicketsSpace(root, app) {
  const slot = messengerShell(root, app, "Your tickets");
  let shownSignature = "";
  let inflight = null;
  slot("status").textContent = "Loading your tickets…";
  load({ first: true });

  async function load({ first = false } = {}) {
    const controller = new AbortController();
    inflight = controller;
    try {
      const space = await api("/api/messenger/tickets", { signal: controller.signal });
      if (space.portal_url && app.me) slot("banner").href = space.portal_url;
      const signature = JSON.stringify(space.items);
      if (signature === shownSignature) return;
      shownSignature = signature;
      slot("status").textContent = space.items.length
        ? ""
        : "No tickets yet. Tickets you create or join appear here.";
      keepingFocus(() =>
        replaceChildren(slot("content"), ticketList(space.items, Boolean(app.me))),
      );
      if (first) slot("heading").focus({ preventScroll: true });
    } catch (error) {
      if (error.name === "AbortError") return;
      if (error.status === 401) app.signedOut();
      else if (first)
        slot("status").textContent = "We couldn’t load your tickets. Try again in a moment.";
    } finally {
      if (inflight === controller) inflight = null;
    }
  }

  return {
    refresh() {
      if (!inflight) load();
    },
    unmount() {
      inflight?.abort();
    },
  };
}

function ticketList(items, withPortal) {
  if (!items.length) return [];
  return el(
    "ul",
    { className: "space-list" },
    items.map((item) => {
      // The portal's details (and from there the conversation) only open with portal access.
      const title = withPortal
        ? el(
            "a",
            {
              href: `/tickets/${encodeURIComponent(item.id)}`,
              className: "space-title",
              dataset: { focusKey: `space-${item.id}` },
            },
            item.title,
          )
        : el("span", { className: "space-title" }, item.title);
      return el(
        "li",
        { className: "space-item" },
        title,
        el(
          "p",
          { className: "space-meta" },
          el("span", { className: `state-badge state-${item.state}` }, stateLabel(item.state)),
          ` ${ticketNumber(item.id)} · ${item.type} · updated `,
          timeElement(item.updated_at),
        ),
      );
    }),
  );
}

/** One conversation in the Messenger; `?ticket=` names its ticket (from the details view). */
export function mountConversation(root, app, conversationId) {
  const slot = messengerShell(root, app, "Conversation");
  const ticketId = new URLSearchParams(window.location.search).get("ticket");
  const actionStatus = el("p", {
    className: "action-status",
    role: "status",
    "aria-live": "polite",
  });
  slot("content").after(actionStatus);
  let shownSignature = "";
  let inflight = null;
  if (ticketId) {
    slot("status").textContent = "Loading the conversation…";
    load({ first: true });
  } else {
    slot("status").textContent = "Open this conversation from its ticket in your tickets.";
  }

  async function load({ first = false } = {}) {
    const controller = new AbortController();
    inflight = controller;
    try {
      const ticket = await api(`/api/portal/tickets/${encodeURIComponent(ticketId)}`, {
        signal: controller.signal,
      });
      if (ticket.conversation_id !== conversationId) throw new ApiError(404, null);
      const signature = JSON.stringify(ticket);
      if (signature === shownSignature) return;
      shownSignature = signature;
      keepingFocus(() => render(ticket));
      if (first) slot("heading").focus({ preventScroll: true });
    } catch (error) {
      if (error.name === "AbortError") return;
      if (error.status === 401) app.signedOut();
      else if (first || error.status === 404) {
        slot("status").textContent =
          error.status === 404 || error.status === 403
            ? "This conversation is not available to you."
            : "We couldn’t load this conversation. Try again in a moment.";
      }
    } finally {
      if (inflight === controller) inflight = null;
    }
  }

  function render(ticket) {
    slot("heading").textContent = ticket.title;
    slot("status").textContent = "";
    const join = ticket.participant
      ? el("p", { className: "hint" }, "You are part of this conversation.")
      : joinButton(ticket.id, actionStatus, () => load(), app.signedOut);
    replaceChildren(
      slot("content"),
      el(
        "p",
        { className: "space-meta" },
        el("span", { className: `state-badge state-${ticket.state}` }, stateLabel(ticket.state)),
        ` ${ticketNumber(ticket.id)} · `,
        el("a", { href: `/tickets/${encodeURIComponent(ticket.id)}` }, "Ticket details"),
      ),
      el("ol", { className: "conversation" }, conversationParts(ticket.conversation)),
      join,
    );
  }

  return {
    refresh() {
      if (!inflight && shownSignature) load();
    },
    unmount() {
      inflight?.abort();
    },
  };
}
