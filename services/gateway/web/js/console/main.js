/**
 * The teammates' console: sign in with a teammate token, then route between its views on
 * the client (history API) under /admin/.
 */
import { el } from "../dom.js";
import { adminApi, forgetToken, rememberToken, teammateToken } from "./admin-api.js";
import { mountCompanies, mountCompany } from "./companies.js";
import { mountInbox } from "./inbox.js";
import { mountSettings } from "./settings.js";
import { mountTicket } from "./ticket.js";
import { mountTicketTypes } from "./ticket-types.js";
import { viewFrame } from "./words.js";

const ROUTES = [
  { nav: "inbox", pattern: /^\/admin\/$/, mount: mountInbox },
  { nav: "inbox", pattern: /^\/admin\/tickets\/([0-9]+)$/, mount: mountTicket },
  { nav: "companies", pattern: /^\/admin\/companies$/, mount: mountCompanies },
  { nav: "companies", pattern: /^\/admin\/companies\/([^/]+)$/, mount: mountCompany },
  { nav: "types", pattern: /^\/admin\/ticket-types$/, mount: mountTicketTypes },
  { nav: "settings", pattern: /^\/admin\/settings$/, mount: mountSettings },
];

const root = document.getElementById("main");
let current = null;

document.addEventListener("click", followInternalLink);
document.getElementById("sign-out").addEventListener("click", () => {
  forgetToken();
  route();
});
window.addEventListener("popstate", route);
route();

function route() {
  current?.unmount?.();
  current = null;
  const signedIn = Boolean(teammateToken());
  document.getElementById("console-nav").hidden = !signedIn;
  document.getElementById("account").hidden = !signedIn;
  if (!signedIn) return showSignIn();
  const path = window.location.pathname;
  const match = ROUTES.map((r) => [r, r.pattern.exec(path)]).find(([, found]) => found);
  markNavigation(match?.[0].nav);
  if (!match) {
    viewFrame(root, "Page not found", el("p", {}, el("a", { href: "/admin/" }, "Go to the inbox")));
    return;
  }
  const [definition, found] = match;
  const context = { navigate, signedOut: route, search: window.location.search };
  current = definition.mount(root, context, ...found.slice(1).map(decodeURIComponent));
}

/** Ask for the teammate token; it is checked against the API before it is kept. */
function showSignIn() {
  markNavigation(null);
  const input = el("input", {
    id: "teammate-token",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const form = el(
    "form",
    { className: "sign-in-form" },
    el(
      "div",
      { className: "field" },
      el("label", { for: "teammate-token" }, "Teammate token"),
      input,
    ),
    el("button", { type: "submit", className: "button-primary" }, "Sign in"),
  );
  const { status, title } = viewFrame(
    root,
    "Sign in to the console",
    el("p", {}, "Paste the teammate token your workspace administrator gave you."),
    form,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "Checking the token…";
    try {
      await adminApi("/api/admin/portal/settings", { token: input.value.trim() });
    } catch (error) {
      status.textContent =
        error.status === 401 ? "That token was not accepted." : "The help desk did not answer.";
      input.focus();
      return;
    }
    rememberToken(input.value.trim());
    route();
  });
  title.focus({ preventScroll: true });
}

function markNavigation(section) {
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function navigate(url) {
  if (url !== `${window.location.pathname}${window.location.search}`) {
    window.history.pushState({}, "", url);
  }
  route();
  window.scrollTo(0, 0);
  root.querySelector("h1")?.focus({ preventScroll: true });
}

/** Same-origin links into the console navigate without a reload. */
function followInternalLink(event) {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest("a[href]");
  if (!link || link.target) return;
  const url = new URL(link.href);
  if (url.origin !== window.location.origin || !url.pathname.startsWith("/admin/")) return;
  event.preventDefault();
  navigate(`${url.pathname}${url.search}`);
}
