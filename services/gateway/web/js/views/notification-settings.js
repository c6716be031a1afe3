/**
 * The e-mail notifications setting on the ticket page: two checkboxes bound to
 * GET/PUT /api/portal/notifications. A change is saved at once and said in a live region;
 * a failed save puts the box back and says why.
 */
import { api } from "../api.js";
import { el } from "../dom.js";

const CHOICES = [
  ["my_tickets", "Tickets I created or take part in"],
  ["company_tickets", "Every ticket of my companies that I can see"],
];

export function mountNotificationSettings(root) {
  const status = el("p", { className: "settings-status", role: "status", "aria-live": "polite" });
  const boxes = {};
  const fieldset = el(
    "fieldset",
    { className: "notification-choices", disabled: true },
    el("legend", {}, "E-mail me about a reply or a change of state on"),
    CHOICES.map(([key, label]) => {
      boxes[key] = el("input", { type: "checkbox", id: `notify-${key}`, name: key, onchange: save });
      return el("div", { className: "choice" }, boxes[key], el("label", { for: `notify-${key}` }, label));
    }),
  );
  root.replaceChildren(
    el("h2", { id: "notifications-heading" }, "E-mail notifications"),
    fieldset,
    status,
  );

  let saved = null;
  api("/api/portal/notifications").then(
    (preferences) => {
      show(preferences);
      fieldset.disabled = false;
    },
    () => say("We couldn’t load your e-mail settings.", true),
  );

  function show(preferences) {
    saved = preferences;
    for (const [key] of CHOICES) boxes[key].checked = Boolean(preferences[key]);
  }

  async function save() {
    const wanted = Object.fromEntries(CHOICES.map(([key]) => [key, boxes[key].checked]));
    say("Saving…");
    try {
      show(await api("/api/portal/notifications", { method: "PUT", body: wanted }));
      say("Saved.");
    } catch {
      if (saved) show(saved);
      say("We couldn’t save your e-mail settings. Try again.", true);
    }
  }

  function say(text, problem = false) {
    status.textContent = text;
    status.classList.toggle("is-problem", problem);
  }
}
