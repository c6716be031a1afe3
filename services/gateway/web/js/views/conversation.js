/** What the details view and the Messenger share: the conversation thread and joining it. */
import { api } from "../api.js";
import { el } from "../dom.js";
import { timeElement } from "../format.js";

/** Customer-visible parts as list items: author, time, and the body as plain text. */
export function conversationParts(parts) {
  if (!parts.length) return [el("li", { className: "part part-empty" }, "No messages yet.")];
  return parts.map((part) =>
    el(
      "li",
      { className: `part part-${part.author_type === "teammate" ? "teammate" : "user"}` },
      el(
        "p",
        { className: "part-meta" },
        el("span", { className: "part-author" }, part.author_name || "Someone"),
        " · ",
        timeElement(part.created_at),
      ),
      el("p", { className: "part-body" }, part.body),
    ),
  );
}

/**
 * A "Join conversation" button for a user who is not yet a participant. On success it
 * calls `onJoined(answer)`; failures are announced in `status` (an aria-live element).
 */
export function joinButton(ticketId, status, onJoined, onSignedOut) {
  const button = el(
    "button",
    { type: "button", className: "button-primary", id: "join-conversation" },
    "Join conversation",
  );
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.classList.remove("is-problem");
    status.textContent = "Joining…";
    try {
      // A cookie-authenticated change must carry a JSON body (the gateway's CSRF guard).
      const answer = await api(`/api/portal/tickets/${encodeURIComponent(ticketId)}/join`, {
        method: "POST",
        body: {},
      });
      status.textContent =
        "You joined the conversation. This ticket is now in your Messenger tickets space.";
      onJoined(answer);
    } catch (error) {
      button.disabled = false;
      if (error.status === 401) {
        onSignedOut();
        return;
      }
      status.classList.add("is-problem");
      status.textContent = `Could not join the conversation: ${error.message}`;
    }
  });
  return button;
}
