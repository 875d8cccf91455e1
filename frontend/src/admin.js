// The administration page: organisations, users, grants on a dataset, jobs, through /api/v1.
import { api, el, t } from "./api.js";

export function adminPage(root) {
  const status = document.getElementById("admin-status");
  const say = (text) => { status.textContent = text; };
  const fail = (error) => say(t("error", { msg: error.message }));
  const cells = (...values) => el("tr", {}, values.map((v) => el("td", {}, v ?? "")));

  async function load() {
    const [orgs, users, jobs] = await Promise.all([api("/api/v1/organisations"), api("/api/v1/users"), api("/api/v1/jobs")]);
    document.getElementById("admin-orgs").replaceChildren(...orgs.organisations.map((o) =>
      cells(el("a", { href: `/organisations/${encodeURIComponent(o.id)}` }, o.id), o.name)));
    document.getElementById("admin-users").replaceChildren(...users.users.map((u) =>
      cells(u.id, u.email, Object.entries(u.roles || {}).map(([org, role]) => `${org}: ${role}`).join(", ")
        + (u.admin ? " admin" : ""))));
    document.getElementById("admin-jobs").replaceChildren(...jobs.jobs.slice(0, 50).map((j) =>
      cells(j.id, j.kind, j.state, j.message, (j.updated || "").replace("T", " ").slice(0, 19))));
  }

  const value = (id) => document.getElementById(id).value.trim();
  document.getElementById("add-org").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("/api/v1/organisations", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ id: value("org-id"), name: value("org-name") || undefined }) });
      ev.target.reset(); say(t("saved")); await load();
    } catch (error) { fail(error); }
  });
  document.getElementById("add-user").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { id: value("user-id"), email: value("user-email"), org: value("user-org") || undefined,
      role: value("user-role"), password: value("user-password") || undefined };
    try {
      await api("/api/v1/users", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      ev.target.reset(); say(t("saved")); await load();
    } catch (error) { fail(error); }
  });

  let dataset = "";
  async function loadGrants() {
    const found = await api(`/api/v1/datasets/${encodeURIComponent(dataset)}/grants`);
    document.getElementById("admin-grants").replaceChildren(...found.grants.map((g) => cells(g.principal, g.id, g.action,
      el("button", { type: "button", onclick: async () => {
        const q = new URLSearchParams({ principal: g.principal, id: g.id, action: g.action });
        try { await api(`/api/v1/datasets/${encodeURIComponent(dataset)}/grants?${q}`, { method: "DELETE" }); await loadGrants(); } catch (e) { fail(e); }
      } }, t("revoke")))));
  }
  document.getElementById("grants-load").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    dataset = value("grant-dataset");
    try { await loadGrants(); say(""); } catch (error) { fail(error); }
  });
  document.getElementById("grant-add").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!dataset) return;
    const body = { principal: value("grant-principal"), id: value("grant-id"), action: value("grant-action") };
    try {
      await api(`/api/v1/datasets/${encodeURIComponent(dataset)}/grants`, { method: "POST",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      say(t("saved")); await loadGrants();
    } catch (error) { fail(error); }
  });
  load().then(() => root.setAttribute("data-ready", "true")).catch(fail);
}
