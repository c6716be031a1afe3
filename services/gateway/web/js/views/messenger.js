/**
 * The Messenger side: the tickets space (tickets the user created or joined, any company)
 * with its banner back to the portal, and one conversation with its composer.
 */
import { api } from "../api.js";
import { el, fromTemplate, keepingFocus, replaceChildren, slotFinder } from "../dom.js";
import { portalScope, stateBadge, ticketNumber, timeElement } from "../format.js";
import { liveLoader } from "../live.js";
import { conversationParts, joinButton } from "./conversation.js";

function messengerShell(root, app, heading) {
  const view = fromTemplate("tpl-messenger");
  const slot = slotFinder(view);
  slot("heading").textContent = heading;
  // The banner leads to the portal, so only users who may use the portal see it.
  slot("banner").hidden = !app.me;
  if (app.me) slot("banner-text").textContent = portalScope(app.me).banner;
  root.replaceChildren(view);
  return slot;
}

/** The banner back to the portal, only while the portal is on (`portalUrl` is null when
 * the teammates turned it off) for a user who may use it. */
function showBanner(slot, app, portalUrl) {
  slot("banner").hidden = !(app.me && portalUrl);
  if (app.me && portalUrl) slot("banner").href = portalUrl;
}

export function mountTicketsSpace(root, app) {
  const slot = messengerShell(root, app, "Your tickets");
  // Creating a ticket goes through the portal: not while the teammates have turned it off.
  slot("new-ticket").hidden = app.access === "disabled";
  slot("status").textContent = "Loading your tickets…";
  // A first load that fails says so; the live refresh keeps trying.
  const live = liveLoader({
    read: (signal) => api("/api/messenger/tickets", { signal }),
    render: (space, { quiet }) => {
      showBanner(slot, app, space.portal_url);
      slot("status").textContent = space.items.length
        ? ""
        : "No tickets yet. Tickets you create or join appear here.";
      replaceChildren(slot("content"), ticketList(space.items, Boolean(app.me)));
      if (!quiet) slot("heading").focus({ preventScroll: true });
    },
    failed: (error, { quiet }) => {
      if (!quiet) {
        slot("status").textContent = "We couldn’t load your tickets. Try again in a moment.";
      }
    },
    signedOut: app.signedOut,
  });
  live.show();

  return {
    refresh: () => live.refresh(),
    unmount: () => live.stop(),
  };
}

function ticketList(items, withPortal) {
  if (!items.length) return [];
  return el(
    "ul",
    { className: "space-list" },
    items.map((item) => {
      // Straight into the ticket's conversation when the user may open it; otherwise to the
      // portal's details, which only open with portal access.
      const href =
        item.messenger_url ?? (withPortal ? `/tickets/${encodeURIComponent(item.id)}` : null);
      const title = href
        ? el(
            "a",
            { href, className: "space-title", dataset: { focusKey: `space-${item.id}` } },
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
          stateBadge(item.state),
          ` ${ticketNumber(item.id)} · ${item.type} · updated `,
          timeElement(item.updated_at),
        ),
      );
    }),
  );
}

/**
 * One conversation in the Messenger, loaded by its id: the customer-visible parts, the way
 * to its ticket, and for a participant the composer ("Join conversation" for a user who may
 * see the ticket but does not take part yet).
 */
export function mountConversation(root, app, conversationId) {
  const slot = messengerShell(root, app, "Conversation");
  const address = `/api/messenger/conversations/${encodeURIComponent(conversationId)}`;
  const thread = el("div", { className: "thread" });
  const actions = el("div", { className: "conversation-actions" });
  const actionStatus = el("p", {
    className: "action-status",
    role: "status",
    "aria-live": "polite",
  });
  slot("content").append(thread, actions, actionStatus);
  // Messages sent from here that the read side does not show yet (it follows within a second).
  let sent = [];
  let joined = false;
  let composer = null;
  let shown = null;
  slot("status").textContent = "Loading the conversation…";
  const live = liveLoader({
    read: async (signal) => {
      const conversation = await api(address, { signal });
      const known = new Set(conversation.parts.map((part) => part.id));
      sent = sent.filter((part) => !known.has(part.id));
      return conversation;
    },
    fingerprint: (conversation) => JSON.stringify([conversation, sent, joined]),
    render: (conversation, { quiet }) => {
      shown = conversation;
      render(conversation);
      if (!quiet) slot("heading").focus({ preventScroll: true });
    },
    // A conversation that goes away (or never loads) ends the view: nothing more to refresh.
    failed: (error, { quiet }) => {
      if (quiet && error.status !== 404) return;
      live.stop();
      showUnavailable(error);
    },
    signedOut: app.signedOut,
  });
  live.show();

  function showUnavailable(error) {
    shown = null;
    thread.replaceChildren();
    actions.replaceChildren();
    composer = null;
    slot("heading").textContent = "Conversation";
    slot("status").textContent =
      error.status === 404
        ? "This conversation is not available to you."
        : "We couldn’t load this conversation. Try again in a moment.";
  }

  function render(conversation) {
    const { ticket } = conversation;
    slot("heading").textContent = ticket ? ticket.title : "Conversation";
    document.title = `${ticket ? ticket.title : "Conversation"} · Messenger`;
    showBanner(slot, app, conversation.portal_url);
    slot("status").textContent = "";
    replaceChildren(
      thread,
      ticket
        ? el(
            "p",
            { className: "space-meta" },
            stateBadge(ticket.state),
            ` ${ticketNumber(ticket.id)} · `,
            el("a", { href: `/tickets/${encodeURIComponent(ticket.id)}` }, "Ticket details"),
          )
        : null,
      el("ol", { className: "conversation" }, conversationParts([...conversation.parts, ...sent])),
    );
    if (conversation.participant || joined) {
      composer ??= messageComposer(address, actionStatus, onSent, app.signedOut);
      if (!actions.contains(composer)) replaceChildren(actions, composer);
    } else if (ticket) {
      replaceChildren(
        actions,
        joinButton(ticket.id, actionStatus, onJoined, app.signedOut),
        el("p", { className: "hint" }, "Join to send messages in this conversation."),
      );
    }
  }

  /** The Messenger counts a join at once; the read side follows within a second. */
  function onJoined() {
    joined = true;
    actionStatus.textContent = "You joined the conversation. You can send a message now.";
    if (shown) render(shown);
    composer?.querySelector("textarea").focus();
    live.check();
  }

  function onSent(part) {
    sent.push(part);
    if (shown) keepingFocus(() => render(shown));
    live.check();
  }

  return {
    refresh: () => live.refresh(),
    unmount: () => live.stop(),
  };
}

/**
 * The message form. Each message carries an Idempotency-Key of its own, kept while it is
 * being retried unchanged, so sending again after a lost answer never posts it twice.
 */
function messageComposer(address, status, onSent, onSignedOut) {
  const body = el("textarea", {
    id: "message-body",
    name: "body",
    rows: "3",
    maxlength: "20000",
    "aria-required": "true",
    placeholder: "Write a message…",
  });
  const send = el("button", { type: "submit", className: "button-primary" }, "Send");
  const form = el(
    "form",
    { className: "composer", "aria-label": "Send us a message" },
    el("label", { for: "message-body" }, "Your message"),
    body,
    el(
      "div",
      { className: "composer-actions" },
      el("span", { className: "hint" }, "Ctrl+Enter sends"),
      send,
    ),
  );
  let draft = null;
  let key = null;
  body.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = body.value.trim();
    status.classList.remove("is-problem");
    if (!text) {
      status.textContent = "Write a message first.";
      body.focus();
      return;
    }
    if (text !== draft) {
      draft = text;
      key = newIdempotencyKey();
    }
    send.disabled = true;
    status.textContent = "Sending…";
    try {
      const part = await api(`${address}/messages`, {
        method: "POST",
        body: { body: text },
        headers: { "Idempotency-Key": key },
      });
      body.value = "";
      draft = null;
      status.textContent = "Message sent.";
      onSent(part);
    } catch (error) {
      if (error.status === 401) {
        onSignedOut();
        return;
      }
      status.classList.add("is-problem");
      status.textContent = `Your message was not sent: ${error.message}`;
    } finally {
      send.disabled = false;
    }
  });
  return form;
}

/** 128 random bits as hex (`crypto.randomUUID` needs a secure context; this does not). */
function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `message-${Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}
