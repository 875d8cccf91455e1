// The dataset page's editing section: workflow buttons and the rights panel, through /api/v1; the page is
// reloaded after each change so what is shown comes from the server.
import { api, problemText } from "./api.js";

export function editingPanel(root) {
  const dataset = encodeURIComponent(root.dataset.dataset);
  const record = encodeURIComponent(root.dataset.record);
  const status = document.getElementById("editing-status");
  // The version of the record the page shows: a change is made only to it (If-Match), never over another's.
  const version = root.dataset.etag ? { "If-Match": root.dataset.etag } : {};
  const run = async (call) => {
    try { await call(); location.reload(); } catch (error) { status.textContent = problemText(error); }
  };
  for (const button of root.querySelectorAll("[data-workflow]")) {
    button.addEventListener("click", () => run(() => {
      const comment = document.getElementById("reject-comment");
      return api(`/api/v1/records/${record}/${button.dataset.workflow}`, { method: "POST",
        headers: { "Content-Type": "application/json", ...version }, body: JSON.stringify({ comment: comment ? comment.value : "" }) });
    }));
  }
  for (const button of root.querySelectorAll("[data-revoke]")) {
    const [principal, id, action] = button.dataset.revoke.split("|");
    button.addEventListener("click", () => run(() => api(
      `/api/v1/datasets/${dataset}/grants?${new URLSearchParams({ principal, id, action })}`, { method: "DELETE" })));
  }
  const metadata = document.getElementById("metadata-form");
  if (metadata) {
    metadata.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const value = (id) => document.getElementById(id).value;
      const body = { abstract: value("md-abstract"), lineage: value("md-lineage"),
        keywords: value("md-keywords").split(",").map((k) => k.trim()).filter(Boolean) };
      run(() => api(`/api/v1/records/${record}`, { method: "PUT",
        headers: { "Content-Type": "application/json", ...version }, body: JSON.stringify(body) }));
    });
  }
  const form = document.getElementById("grant-form");
  if (form) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const body = { principal: document.getElementById("grant-principal").value,
        id: document.getElementById("grant-id").value.trim(), action: document.getElementById("grant-action").value };
      run(() => api(`/api/v1/datasets/${dataset}/grants`, { method: "POST",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) }));
    });
  }
}
