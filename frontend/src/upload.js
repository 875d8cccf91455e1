// The upload wizard: drop or choose a file, send it with a progress bar, follow the ingest job,
// then show what was detected (CRS, fields) and link to the new dataset.
import { api, el, t, writeHeaders } from "./api.js";

export function uploadWizard(form) {
  const zone = document.getElementById("drop-zone");
  const input = document.getElementById("upload-file");
  const name = document.getElementById("upload-name");
  const progress = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  const result = document.getElementById("upload-result");
  let file = null;

  function choose(chosen) {
    file = chosen || null;
    name.textContent = file ? `${file.name} (${Math.ceil(file.size / 1024)} KiB)` : "";
    const title = document.getElementById("upload-title");
    if (file && !title.value) title.value = file.name.replace(/\.[^.]+$/, "").replace(/[_-]+/g, " ");
  }
  input.addEventListener("change", () => choose(input.files[0]));
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (ev) => { ev.preventDefault(); zone.classList.add("over"); });
  }
  for (const type of ["dragleave", "drop"]) {
    zone.addEventListener(type, (ev) => { ev.preventDefault(); zone.classList.remove("over"); });
  }
  zone.addEventListener("drop", (ev) => choose(ev.dataTransfer.files[0]));

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!file) { status.textContent = t("choose_file"); return; }
    const body = new FormData();
    body.append("file", file, file.name);
    for (const key of ["title", "crs"]) {
      const value = document.getElementById(`upload-${key}`).value.trim();
      if (value) body.append(key, value);
    }
    if (document.getElementById("upload-public").checked) body.append("public", "true");
    const xhr = new XMLHttpRequest(); // fetch() reports no upload progress
    xhr.open("POST", "/api/v1/uploads");
    xhr.withCredentials = true;
    for (const [key, value] of Object.entries(writeHeaders({ Accept: "application/json" }))) xhr.setRequestHeader(key, value);
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) progress.value = Math.round((e.loaded / e.total) * 50);
    });
    xhr.addEventListener("load", () => {
      let job = null;
      try { job = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if (xhr.status !== 202 || !job) {
        status.textContent = t("failed", { msg: job?.detail || xhr.statusText });
        return;
      }
      follow(job.links.find((l) => l.rel === "self").href);
    });
    xhr.addEventListener("error", () => { status.textContent = t("failed", { msg: "network" }); });
    status.textContent = t("uploading");
    result.replaceChildren();
    xhr.send(body);
  });

  async function follow(url) {
    const path = new URL(url, location.href).pathname;
    for (;;) {
      const job = await api(path);
      if (job.state === "queued") status.textContent = t("queued");
      if (job.state === "running") {
        progress.value = 50 + Math.round((job.progress || 0) * 50);
        status.textContent = t("running", { p: Math.round((job.progress || 0) * 100) });
      }
      if (job.state === "failed") { status.textContent = t("failed", { msg: job.message }); return; }
      if (job.state === "succeeded") {
        progress.value = 100;
        status.textContent = t("succeeded");
        await showResult(job);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
  }

  async function showResult(job) {
    const ids = job.result?.datasets || [];
    const cards = await Promise.all(ids.map(async (id) => {
      const d = await api(`/api/v1/datasets/${encodeURIComponent(id)}`);
      return el("section", { class: "published", "data-dataset": d.id },
        el("h2", {}, d.title),
        el("dl", { class: "facts" },
          el("dt", {}, t("crs")), el("dd", {}, d.srid ? `EPSG:${d.srid}` : d.crs),
          d.kind === "vector" ? [el("dt", {}, t("count")), el("dd", {}, String(d.count))] : null,
          d.fields?.length ? [el("dt", {}, t("fields")), el("dd", {}, d.fields.map((f) => `${f.name} (${f.type})`).join(", "))] : null),
        el("p", {}, el("a", { class: "button", href: `/datasets/${encodeURIComponent(d.id)}` }, t("view"))));
    }));
    result.replaceChildren(...cards);
  }
}
