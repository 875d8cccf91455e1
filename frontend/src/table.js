// The paged attribute table of a dataset page, read from OGC API Features.
import { api, el, t } from "./api.js";

const PAGE = 10;

export function attributeTable(node) {
  const fields = node.dataset.fields ? node.dataset.fields.split("\u001f") : [];
  const body = node.querySelector("tbody");
  const prev = node.querySelector("button.prev");
  const next = node.querySelector("button.next");
  const status = node.querySelector(".status");
  let offset = 0;

  async function load() {
    status.textContent = t("loading");
    const url = `${node.dataset.items}?f=json&limit=${PAGE}&offset=${offset}`;
    try {
      const page = await api(url, { headers: { Accept: "application/geo+json" } });
      body.replaceChildren(...page.features.map((f) => el("tr", {},
        el("td", { text: f.id }), fields.map((name) => el("td", { text: format(f.properties?.[name]) })))));
      const matched = page.numberMatched ?? offset + page.features.length;
      status.textContent = t("shown", { from: page.features.length ? offset + 1 : 0,
        to: offset + page.features.length, n: matched });
      prev.disabled = offset === 0;
      next.disabled = offset + PAGE >= matched;
    } catch (error) {
      status.textContent = t("error", { msg: error.message });
    }
  }
  prev.addEventListener("click", () => { offset = Math.max(0, offset - PAGE); load(); });
  next.addEventListener("click", () => { offset += PAGE; load(); });
  load();
}

function format(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}
