/**
 * The portal page: trade the help center's sign-in hand-off for a session, find out what the
 * user may see, then route between the views on the client (history API), refreshing the
 * visible view every few seconds.
 */
import { api } from "./api.js";
import { credentialsFromFragment, forgetFragment } from "./handoff.js";
import { mountDetails } from "./views/details.js";
import { mountConversation, mountTicketsSpace } from "./views/messenger.js";
import {
  showNoAccess,
  showNotFound,
  showPortalDisabled,
  showProblem,
  showSignedOut,
  showSignInFailed,
} from "./views/notices.js";
import { mountNewTicket } from "./views/new-ticket.js";
import { mountTickets } from "./views/tickets.js";

const REFRESH_INTERVAL_MS = 3000;

const ROUTES = [
  { name: "tickets", pattern: /^\/$/, portal: true, mount: (root, app) => mountTickets(root, app) },
  // Before the details: a user without portal access (no company, or no ticket yet) may
  // still create a ticket, which then shows in their Messenger tickets space.
  { name: "new-ticket", pattern: /^\/tickets\/new$/, mount: (root, app) => mountNewTicket(root, app) },
  {
    name: "details",
    pattern: /^\/tickets\/([^/]+)$/,
    portal: true,
    mount: (root, app, id) => mountDetails(root, app, id),
  },
  { name: "space", pattern: /^\/messenger$/, mount: (root, app) => mountTicketsSpace(root, app) },
  {
    name: "conversation",
    pattern: /^\/messenger\/conversations\/([^/]+)$/,
    mount: (root, app, id) => mountConversation(root, app, id),
  },
];

const root = document.getElementById("main");
const app = {
  /** `/api/portal/me` when the user may use the portal, else null. */
  me: null,
  /** "granted", "denied" (with `missing` and `user`), "disabled" or "signed_out". */
  access: "signed_out",
  missing: [],
  /** Who is signed in when the portal denies them (the no-access page names them). */
  user: null,
  /** The table's filter choices (`/api/portal/tickets/facets`), once loaded. */
  facets: null,
  listUrl: () => lastListUrl,
  rememberListUrl(url) {
    lastListUrl = url;
  },
  /** Go to a page route, as a link would; the new view's heading takes the focus. */
  async navigate(path) {
    window.history.pushState({}, "", path);
    // A first ticket may be what gives the user portal access.
    if (app.access !== "granted") await loadAccess().catch(() => {});
    route();
    root.querySelector("h1")?.focus({ preventScroll: true });
  },
  signedOut() {
    app.me = null;
    app.facets = null;
    app.access = "signed_out";
    showSignedIn();
    route();
  },
};
let lastListUrl = "/";
let current = { key: "", view: null };

boot();

async function boot() {
  const credentials = credentialsFromFragment(window.location.hash);
  if (credentials) {
    forgetFragment();
    try {
      await api("/api/portal/session", { method: "POST", body: credentials });
    } catch (error) {
      if (error.status >= 500 || !error.status) showProblem(root);
      else showSignInFailed(root);
      return;
    }
  }
  try {
    await loadAccess();
  } catch {
    showProblem(root);
    return;
  }
  document.addEventListener("click", followInternalLink);
  document.getElementById("sign-out").addEventListener("click", signOut);
  window.addEventListener("popstate", route);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) current.view?.refresh?.();
  });
  setInterval(() => {
    if (!document.hidden) current.view?.refresh?.();
  }, REFRESH_INTERVAL_MS);
  route();
}

async function loadAccess() {
  try {
    app.me = await api("/api/portal/me");
    app.access = "granted";
  } catch (error) {
    app.me = null;
    if (error.status === 403 && error.code === "no_portal_access") {
      app.access = "denied";
      app.missing = error.fields?.missing ?? [];
      app.user = error.fields?.user ?? null;
    } else if (error.status === 403 && error.code === "portal_disabled") {
      app.access = "disabled";
    } else if (error.status === 401) {
      app.access = "signed_out";
    } else {
      throw error;
    }
  }
  showSignedIn();
}

function showSignedIn() {
  const user = app.me?.user ?? app.user;
  document.getElementById("account").hidden = app.access === "signed_out";
  document.getElementById("signed-in").textContent = user
    ? `Signed in as ${user.name || user.email || user.id}`
    : "Signed in";
}

async function signOut() {
  try {
    await api("/api/portal/session", { method: "DELETE", body: {} });
  } catch (error) {
    if (error.status !== 401) return;
  }
  app.signedOut();
}

/** Show the view for the current URL; a change within the same view only updates it. */
function route() {
  const path = window.location.pathname;
  const match = ROUTES.map((candidate) => [candidate, candidate.pattern.exec(path)]).find(
    ([, m]) => m,
  );
  markNavigation(match?.[0], app.access);
  const key = match ? `${match[0].name}:${match[1].slice(1).join("/")}:${app.access}` : "";
  const sameList = key && key === current.key && match[0].name === "tickets" && current.view;
  if (sameList) {
    current.view.update();
    return;
  }
  current.view?.unmount?.();
  current = { key, view: null };
  if (match?.[0].name === "tickets") lastListUrl = `${path}${window.location.search}`;
  if (app.access === "signed_out") return showSignedOut(root);
  if (!match) return showNotFound(root);
  const [definition, found] = match;
  if (definition.portal && app.access === "denied") {
    return showNoAccess(root, app.missing, app.user);
  }
  // New tickets are made through the portal's API too: none while it is off.
  const needsPortal = definition.portal || definition.name === "new-ticket";
  if (needsPortal && app.access === "disabled") return showPortalDisabled(root);
  document.title = "Customer portal";
  current.view = definition.mount(root, app, ...found.slice(1).map(decodeURIComponent));
}

/** Highlight the tab of the view shown; none on a page that explains why there is none. */
function markNavigation(definition, access) {
  const fromMessenger = new URLSearchParams(window.location.search).get("from") === "messenger";
  const refused = access === "denied" || access === "disabled";
  const section =
    definition && !definition.portal && (definition.name !== "new-ticket" || fromMessenger)
      ? "messenger"
      : refused
        ? ""
        : "portal";
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

/** Same-origin links to a page route navigate without a reload. */
function followInternalLink(event) {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest("a[href]");
  if (!link || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href);
  if (url.origin !== window.location.origin) return;
  if (!ROUTES.some((candidate) => candidate.pattern.test(url.pathname))) return;
  event.preventDefault();
  const target = `${url.pathname}${url.search}`;
  if (target !== `${window.location.pathname}${window.location.search}`) {
    window.history.pushState({}, "", target);
  }
  const before = current.key;
  route();
  if (current.key !== before) {
    window.scrollTo(0, 0);
    root.querySelector("h1")?.focus({ preventScroll: true });
  }
}
