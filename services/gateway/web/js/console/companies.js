/**
 * Companies: the list, and a company profile with two tabs, its members and its tickets
 * (`GET /api/admin/companies/<id>/tickets`, every ticket of the company).
 */
import { el, replaceChildren } from "../dom.js";
import { adminApi, queryString } from "./admin-api.js";
import { ticketTable } from "./ticket-list.js";
import { viewFrame } from "./words.js";

export function mountCompanies(root, context) {
  const region = el("div", { className: "table-region" });
  const { status } = viewFrame(root, "Companies", region);
  status.textContent = "Loading companies…";
  adminApi("/api/admin/companies")
    .then(({ items }) => {
      status.textContent = "";
      replaceChildren(
        region,
        el(
          "table",
          { className: "ticket-table console-table" },
          el("caption", { className: "visually-hidden" }, "Companies"),
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              ["Company", "Members", "Tickets"].map((h) => el("th", { scope: "col" }, h)),
            ),
          ),
          el(
            "tbody",
            {},
            items.map((company) =>
              el(
                "tr",
                {},
                el(
                  "th",
                  { scope: "row" },
                  el(
                    "a",
                    { href: `/admin/companies/${encodeURIComponent(company.id)}` },
                    company.name,
                  ),
                ),
                el("td", {}, String(company.members)),
                el("td", {}, String(company.tickets)),
              ),
            ),
          ),
        ),
      );
    })
    .catch((error) => {
      if (error.status === 401) return context.signedOut();
      status.textContent = `The companies could not be loaded: ${error.message}`;
    });
  return {};
}

const TABS = [
  ["members", "Members"],
  ["tickets", "Tickets"],
];

export function mountCompany(root, context, companyId) {
  const params = new URLSearchParams(context.search);
  let tab = params.get("tab") === "tickets" ? "tickets" : "members";
  let page = Number(params.get("page")) || 1;
  const tabs = el("div", { className: "tabs", role: "tablist", "aria-label": "Company profile" });
  const panel = el("div", {
    className: "tab-panel",
    role: "tabpanel",
    id: "company-panel",
    tabindex: "0",
  });
  const { status, title } = viewFrame(root, "Company", tabs, panel);
  const path = `/admin/companies/${encodeURIComponent(companyId)}`;

  function drawTabs() {
    replaceChildren(
      tabs,
      TABS.map(([key, label]) => {
        const button = el(
          "button",
          {
            type: "button",
            role: "tab",
            id: `tab-${key}`,
            "aria-selected": String(key === tab),
            "aria-controls": "company-panel",
            tabindex: key === tab ? "0" : "-1",
          },
          label,
        );
        button.addEventListener("click", () => show(key));
        button.addEventListener("keydown", (event) => {
          if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
          const other = TABS.find(([k]) => k !== key)[0];
          show(other);
          document.getElementById(`tab-${other}`).focus();
        });
        return button;
      }),
    );
    panel.setAttribute("aria-labelledby", `tab-${tab}`);
  }

  function show(key, newPage = 1) {
    tab = key;
    page = newPage;
    window.history.replaceState(
      {},
      "",
      `${path}${queryString({ tab: key === "tickets" ? "tickets" : "", page: page > 1 ? page : "" })}`,
    );
    drawTabs();
    load();
  }

  async function load() {
    status.textContent = "Loading…";
    try {
      if (tab === "members") {
        const company = await adminApi(
          `/api/admin/companies/${encodeURIComponent(companyId)}/members`,
        );
        title.textContent = company.name;
        document.title = `${company.name} · Help desk console`;
        replaceChildren(panel, membersTable(company));
      } else {
        const answer = await adminApi(
          `/api/admin/companies/${encodeURIComponent(companyId)}/tickets${queryString({ page })}`,
        );
        replaceChildren(
          panel,
          ticketTable(answer, {
            caption: "The company's tickets",
            showCompany: false,
            onPage: (p) => show("tickets", p),
          }),
        );
        if (title.textContent === "Company") {
          const company = await adminApi(`/api/admin/companies/${encodeURIComponent(companyId)}`);
          title.textContent = company.name;
        }
      }
      status.textContent = "";
    } catch (error) {
      if (error.status === 401) return context.signedOut();
      status.textContent =
        error.status === 404 ? "This company does not exist." : `Could not load: ${error.message}`;
    }
  }

  function membersTable(company) {
    if (!company.members.length) return el("p", { className: "empty-state" }, "No members yet.");
    return el(
      "table",
      { className: "ticket-table console-table" },
      el("caption", { className: "visually-hidden" }, `Members of ${company.name}`),
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          ["Name", "Email", "Attributes", "Membership"].map((h) => el("th", { scope: "col" }, h)),
        ),
      ),
      el(
        "tbody",
        {},
        company.members.map((member) => {
          const who = member.name || member.email || member.id;
          const remove = el(
            "button",
            { type: "button", className: "button-link" },
            `Remove ${who} from ${company.name}`,
          );
          remove.addEventListener("click", async () => {
            status.textContent = `Removing ${who}…`;
            try {
              await adminApi(
                `/api/admin/companies/${encodeURIComponent(companyId)}/members/${encodeURIComponent(member.id)}`,
                { method: "DELETE" },
              );
              await load();
              status.textContent = `${who} is no longer a member. Conversations they joined stay theirs until you remove them from each.`;
            } catch (error) {
              status.textContent = `Not removed: ${error.message}`;
            }
          });
          const attributes = Object.entries(member.attributes)
            .map(([k, v]) => `${k}: ${v}`)
            .join(", ");
          return el(
            "tr",
            {},
            el("th", { scope: "row" }, member.name ?? member.id),
            el("td", {}, member.email ?? "—"),
            el("td", {}, attributes || "—"),
            el("td", {}, remove),
          );
        }),
      ),
    );
  }

  drawTabs();
  load();
  return {};
}
