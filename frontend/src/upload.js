// The upload wizard: drop or choose a file, send it with a progress bar, follow the ingest job,
// then show what was detected (CRS, geometry, extent, attributes or bands) and a form that completes the
// dataset's record through the record API, and link to the new dataset.
import { api, el, problemText, t, versioned, writeHeaders } from "./api.js";

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
    // A failure while following the job or reading what it published is said, never left as a silent stop.
    try { await followJob(url); } catch (error) { status.textContent = t("error", { msg: error.message }); }
  }

  async function followJob(url) {
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
    const cards = await Promise.all(ids.map((id, index) => published(id, index)));
    result.replaceChildren(...cards);
    const first = result.querySelector("form.describe [data-field=title]");
    if (first) first.focus();
  }
}

const fixed = (v) => Number(v).toFixed(4);

/** What was detected in one published dataset, and the form that completes its record. */
async function published(id, index) {
  const d = await api(`/api/v1/datasets/${encodeURIComponent(id)}`);
  const read = d.record ? await versioned(`/api/v1/records/${encodeURIComponent(d.record.id)}`) : null;
  const rec = read ? read.body : null;
  const node = document.getElementById("published-template").content.firstElementChild.cloneNode(true);
  node.dataset.dataset = d.id;
  const heading = node.querySelector(".published-title");
  heading.id = `published-${index}`;
  heading.textContent = d.title;
  node.setAttribute("aria-labelledby", heading.id);
  const facts = [[t("crs"), d.srid ? `EPSG:${d.srid}` : d.crs]];
  if (d.kind === "vector") {
    facts.push([t("geometry"), d.geometry_type || "—"], [t("count"), String(d.count ?? 0)]);
  } else if (d.raster) {
    facts.push([t("size"), t("pixels", { w: d.raster.width, h: d.raster.height })]);
    facts.push([t("bands"), `${d.raster.bands}${d.raster.dtype ? ` · ${d.raster.dtype}` : ""}`]);
  }
  if (d.extent_wgs84) facts.push([t("extent"), d.extent_wgs84.map(fixed).join(", ")]);
  node.querySelector("dl.detected").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const fields = d.fields || [];
  node.querySelector("table.schema tbody").replaceChildren(
    ...fields.map((f) => el("tr", {}, el("td", {}, el("code", {}, f.name)), el("td", {}, f.type))));
  if (!fields.length) {
    node.querySelector(".schema-wrap").hidden = true;
    node.querySelector(".no-fields").hidden = false;
  }
  const link = node.querySelector("a.view");
  link.href = `/datasets/${encodeURIComponent(d.id)}`;
  link.textContent = t("view");
  const form = node.querySelector("form.describe");
  if (!rec) { form.hidden = true; return node; }
  describeForm(form, rec, read.etag, index);
  return node;
}

function describeForm(form, rec, etag, index) {
  const field = (name) => form.querySelector(`[data-field=${name}]`);
  for (const label of form.querySelectorAll("label[data-for]")) {
    const input = field(label.dataset.for);
    input.id = `md-${label.dataset.for}-${index}`;
    label.htmlFor = input.id;
  }
  field("title").value = rec.title || "";
  field("abstract").value = rec.abstract || "";
  field("keywords").value = (rec.keywords || []).join(", ");
  field("lineage").value = rec.lineage || "";
  const language = field("language");
  if (rec.language && ![...language.options].some((o) => o.value === rec.language)) {
    language.append(el("option", { value: rec.language }, rec.language));
  }
  language.value = rec.language || language.options[0].value;
  const topics = new Set(rec.topics || []);
  for (const box of form.querySelectorAll("input[name=topics]")) {
    box.id = `md-topic-${box.value}-${index}`;
    box.checked = topics.has(box.value);
  }
  const status = form.querySelector(".describe-status");
  const review = form.querySelector(".submit-review");
  const url = `/api/v1/records/${encodeURIComponent(rec.id)}`;
  review.hidden = rec.state !== "draft";
  // Each change is made to the version read (If-Match), and the next one to the version it made.
  let version = etag;
  const send = async (target, init) => {
    const done = await versioned(target, { ...init, headers: { ...(init.headers || {}),
      ...(version ? { "If-Match": version } : {}) } });
    version = done.etag || version;
    return done.body;
  };
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {
      title: field("title").value.trim(), abstract: field("abstract").value, lineage: field("lineage").value,
      keywords: field("keywords").value.split(",").map((k) => k.trim()).filter(Boolean),
      language: language.value,
      topics: [...form.querySelectorAll("input[name=topics]:checked")].map((b) => b.value),
    };
    try {
      const saved = await send(url, { method: "PUT", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body) });
      review.hidden = saved.state !== "draft";
      status.textContent = t("described");
    } catch (error) { status.textContent = problemText(error, "stale_describe"); }
  });
  review.addEventListener("click", async () => {
    try {
      const saved = await send(`${url}/submit`, { method: "POST" });
      review.hidden = saved.state !== "draft";
      status.textContent = t("submitted");
    } catch (error) { status.textContent = problemText(error, "stale_describe"); }
  });
}
