/** Full-page explanations: how to sign in, what is missing for access, what went wrong. */
import { el, fromTemplate, replaceChildren } from "../dom.js";

const REQUIREMENTS = [
  ["email", "An email address on your profile"],
  ["company", "Membership of a company"],
  ["ticket", "At least one ticket associated with one of your companies"],
];

function notice(root, heading, ...body) {
  const view = fromTemplate("tpl-notice");
  view.querySelector('[data-slot="heading"]').textContent = heading;
  replaceChildren(view.querySelector('[data-slot="body"]'), body);
  root.replaceChildren(view);
  view.querySelector("h1").focus({ preventScroll: true });
  return view;
}

export function showSignedOut(root) {
  notice(
    root,
    "Sign in to see your tickets",
    el(
      "p",
      {},
      "The customer portal shows the tickets of your company once you are signed in. " +
        "Sign in to the help center and open the portal from its Customer portal card, " +
        "or use the portal link your support team shared with you.",
    ),
  );
}

export function showSignInFailed(root) {
  notice(
    root,
    "This sign-in link did not work",
    el(
      "p",
      {},
      "It may have expired or been copied incompletely. Go back to the help center and open " +
        "the customer portal from there to get a fresh link.",
    ),
  );
}

/** `missing` names the unmet requirements: "email", "company", "ticket"; `user` is who is
 * signed in (id, and email and name when known). */
export function showNoAccess(root, missing, user) {
  const unmet = new Set(missing);
  const who = user ? user.name || user.email || user.id : null;
  notice(
    root,
    "You can’t use the customer portal yet",
    who ? el("p", { className: "signed-in-as" }, `You are signed in as ${who}.`) : null,
    el("p", {}, "To see your company’s tickets here, your profile needs:"),
    el(
      "ul",
      { className: "requirements" },
      REQUIREMENTS.map(([key, text]) =>
        el(
          "li",
          {
            className: unmet.has(key) ? "requirement is-missing" : "requirement is-met",
            dataset: { requirement: key },
          },
          el(
            "span",
            { className: "requirement-mark", "aria-hidden": "true" },
            unmet.has(key) ? "✗" : "✓",
          ),
          text,
          el(
            "span",
            { className: "requirement-state" },
            unmet.has(key) ? " — missing" : " — in place",
          ),
        ),
      ),
    ),
    el(
      "p",
      {},
      "Ask your support team to add what is missing. Your own tickets stay available in the Messenger.",
    ),
    el("p", {}, el("a", { href: "/messenger" }, "Open your Messenger tickets")),
  );
}

export function showPortalDisabled(root) {
  notice(
    root,
    "The customer portal is turned off",
    el(
      "p",
      {},
      "Your support team has turned the customer portal off for now, so your company’s " +
        "tickets are not shown here. Your own tickets stay available in the Messenger.",
    ),
    el("p", {}, el("a", { href: "/messenger" }, "Open your Messenger tickets")),
  );
}

export function showNotFound(root) {
  notice(root, "Page not found", el("p", {}, el("a", { href: "/" }, "Go to your tickets")));
}

export function showProblem(root) {
  notice(
    root,
    "The portal is not available right now",
    el("p", {}, "We couldn’t reach the help desk. Reload the page in a moment."),
  );
}
