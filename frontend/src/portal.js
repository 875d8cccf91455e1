// The portal's one script: each page part starts when its element is on the page.
import { copyButtons } from "./copy.js";
import { attributeTable } from "./table.js";
import { extentMap, previewMap } from "./preview.js";
import { viewer } from "./viewer.js";
import { uploadWizard } from "./upload.js";
import { adminPage } from "./admin.js";
import { editingPanel } from "./editing.js";
import { chartPage } from "./chart.js";

function start() {
  copyButtons();
  const preview = document.getElementById("preview-map");
  if (preview) previewMap(preview);
  const extent = document.getElementById("extent-map");
  if (extent) extentMap(extent, document.getElementById("use-extent"), document.getElementById("bbox"),
    document.getElementById("search-form"));
  for (const table of document.querySelectorAll(".attribute-table")) attributeTable(table);
  const map = document.getElementById("viewer-map");
  if (map) viewer(map);
  const upload = document.getElementById("upload-form");
  if (upload) uploadWizard(upload);
  const admin = document.getElementById("admin");
  if (admin) adminPage(admin);
  const editing = document.getElementById("editing");
  if (editing) editingPanel(editing);
  const chart = document.getElementById("series-chart");
  if (chart) chartPage(chart).catch((error) => { chart.textContent = error.message; });
  document.documentElement.dataset.ready = "true";
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
