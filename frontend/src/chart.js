// Charts of a station dataset's series, or of a raster time stack's pixels (uPlot), read from OGC API – EDR as
// CoverageJSON: stations (or points) to compare, variables (one axis per unit), a time range (zoom by dragging,
// earlier/later), daily or monthly means with their minimum and maximum (EDR's aggregate=), CSV and PNG export,
// and a state that lives in the address.
import uPlot from "uplot";
import { api, el, t } from "./api.js";
import { copyButtons } from "./copy.js";

const COLOURS = ["#1f6fb2", "#b4451f", "#2e7d32", "#7b1fa2", "#c77700", "#00838f", "#5d4037", "#ad1457"];
const AGGREGATIONS = ["raw", "day", "month"];
const enc = encodeURIComponent;

/** The chart's state from an address's query: stations, variables, from, to, aggregation. */
export function chartState(params) {
  const agg = params.get("agg");
  return { stations: params.getAll("station"), vars: params.getAll("var"), from: params.get("from") || "",
    to: params.get("to") || "", agg: AGGREGATIONS.includes(agg) ? agg : "raw" };
}

/** The query that restores ``state``. */
export function stateQuery(state) {
  const q = new URLSearchParams();
  state.stations.forEach((s) => q.append("station", s));
  state.vars.forEach((v) => q.append("var", v));
  if (state.from) q.set("from", state.from);
  if (state.to) q.set("to", state.to);
  if (state.agg !== "raw") q.set("agg", state.agg);
  return q;
}

/** Seconds since 1970 as an address's date ("2012-03-01") or date-time ("2012-03-01T06:00:00Z"). */
function isoTime(seconds) {
  const text = new Date(Math.round(seconds) * 1000).toISOString().replace(".000Z", "Z");
  return text.endsWith("T00:00:00Z") ? text.slice(0, 10) : text;
}

function seconds(text, end = false) {
  if (!text) return null;
  const value = Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text) / 1000;
  return end && text.length === 10 ? value + 86400 - 0.001 : value;
}

const POINT = /^(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)$/; // a raster stack's pixel: "lon,lat"

/** Where a station dataset's series come from: its stations, parameters and time range, one station's series. */
async function stationSource(dataset) {
  const located = await api(`/ogc/collections/${enc(dataset.id)}/locations`);
  const places = located.features.map((f) => ({ id: String(f.id), name: f.properties.name || String(f.id) }));
  const known = new Set(places.map((s) => s.id));
  return {
    places, parameters: dataset.series.parameters, begin: dataset.series.begin, end: dataset.series.end,
    heading: t("chart.stations"), known: (s) => known.has(s), fallback: places[0]?.id,
    url: (place, q) => `/ogc/collections/${enc(dataset.id)}/locations/${enc(place)}?${q}`,
  };
}

/** Where a raster time stack's series come from: the pixel holding a point "lon,lat", read through /position. */
async function pixelSource(dataset) {
  const collection = await api(`/ogc/collections/${enc(dataset.id)}`);
  const parameters = Object.entries(collection.parameter_names)
    .map(([name, p]) => ({ name, unit: p.unit?.symbol || "" }));
  const [begin, end] = collection.extent.temporal.interval[0];
  const [west, south, east, north] = collection.extent.spatial?.bbox[0] || [0, 0, 0, 0];
  const round = (v) => String(Math.round(v * 10000) / 10000);
  return {
    places: [], parameters, begin, end, heading: t("chart.point"), known: (s) => POINT.test(s),
    fallback: `${round((west + east) / 2)},${round((south + north) / 2)}`,
    url: (place, q) => {
      const [, lon, lat] = POINT.exec(place);
      q.set("coords", `POINT(${lon} ${lat})`);
      return `/ogc/collections/${enc(dataset.id)}/position?${q}`;
    },
  };
}

/** A chart in ``node`` of the series of station dataset or raster time stack ``id``; ``onChange(state)`` after
 * every change of its state. A stack's "stations" are points "lon,lat": the series of the pixels holding them. */
export async function seriesChart(node, id, state, { onChange = () => {}, compact = false } = {}) {
  const dataset = await api(`/api/v1/datasets/${enc(id)}`);
  const source = await (dataset.series ? stationSource(dataset) : pixelSource(dataset));
  const stations = source.places;
  const parameters = source.parameters;
  const units = Object.fromEntries(parameters.map((p) => [p.name, p.unit || ""]));
  state.stations = state.stations.filter(source.known);
  state.vars = state.vars.filter((v) => v in units);
  if (!state.stations.length && source.fallback) state.stations = [source.fallback];
  if (!state.vars.length && parameters.length) state.vars = [parameters[0].name];
  const begin = Date.parse(source.begin) / 1000;
  const end = Date.parse(source.end) / 1000;
  const uid = `chart-${id.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  let plot = null;
  let shown = null; // {labels, data}: what the chart draws, for the CSV export

  const plotBox = el("div", { class: "chart-plot", role: "img", "aria-label": t("chart.label", { title: dataset.title }) });
  const status = el("p", { class: "meta chart-status", "aria-live": "polite" });
  const stationList = el("ul", { class: "chart-stations" });
  const addSelect = el("select", { id: `${uid}-add` });
  const variables = el("fieldset", { class: "chart-vars" }, el("legend", {}, t("chart.variables")),
    parameters.map((p) => el("label", { class: "check" }, el("input", { type: "checkbox", value: p.name, name: "var",
      checked: state.vars.includes(p.name), onchange: (ev) => {
        state.vars = ev.target.checked ? [...state.vars, p.name] : state.vars.filter((v) => v !== p.name);
        update();
      } }), ` ${p.name}${p.unit ? ` (${p.unit})` : ""}`)));
  const fromInput = el("input", { type: "date", id: `${uid}-from`, onchange: (ev) => { state.from = ev.target.value; update(); } });
  const toInput = el("input", { type: "date", id: `${uid}-to`, onchange: (ev) => { state.to = ev.target.value; update(); } });
  const aggSelect = el("select", { id: `${uid}-agg`, onchange: (ev) => { state.agg = ev.target.value; update(); } },
    AGGREGATIONS.map((a) => el("option", { value: a, selected: state.agg === a }, t(`chart.${a}`))));
  const shift = (direction) => () => {
    const low = seconds(state.from) ?? begin, high = seconds(state.to, true) ?? end;
    const step = (high - low) / 2 * direction;
    state.from = isoTime(low + step); state.to = isoTime(high + step);
    update();
  };
  const link = el("input", { id: `${uid}-link`, readonly: true, class: "chart-link" });
  const embed = el("input", { id: `${uid}-embed`, readonly: true, class: "chart-embed" });
  const share = el("details", { class: "chart-share" }, el("summary", {}, t("chart.share")),
    el("label", { for: link.id }, t("chart.link")), el("div", { class: "row" }, link,
      el("button", { type: "button", class: "copy", "data-copy": link.id }, t("chart.copy"))),
    el("label", { for: embed.id }, t("chart.embed")), el("div", { class: "row" }, embed,
      el("button", { type: "button", class: "copy", "data-copy": embed.id }, t("chart.copy"))));
  copyButtons(share);
  const addBox = el("div", { class: "chart-add-box" }, el("label", { for: addSelect.id }, t("chart.add_station")),
    el("div", { class: "row" }, addSelect, el("button", { type: "button", class: "chart-add", onclick: () => {
      if (addSelect.value && !state.stations.includes(addSelect.value)) {
        state.stations = [...state.stations, addSelect.value];
        update();
      }
    } }, t("add"))));

  node.replaceChildren(
    el("div", { class: "chart-controls" },
      el("div", {}, el("span", { class: "label" }, source.heading), stationList, addBox),
      variables,
      el("div", { class: "chart-time" },
        el("label", { for: fromInput.id }, t("chart.from")), fromInput,
        el("label", { for: toInput.id }, t("chart.to")), toInput,
        el("label", { for: aggSelect.id }, t("chart.aggregation")), aggSelect)),
    el("div", { class: "tools-row chart-nav" },
      el("button", { type: "button", class: "chart-earlier", onclick: shift(-1) }, `◀ ${t("chart.earlier")}`),
      el("button", { type: "button", class: "chart-reset", onclick: () => { state.from = ""; state.to = ""; update(); } },
        t("chart.reset")),
      el("button", { type: "button", class: "chart-later", onclick: shift(1) }, `${t("chart.later")} ▶`)),
    plotBox, status,
    el("p", { class: "meta" }, t("chart.zoom_hint")),
    el("div", { class: "tools-row chart-export" },
      el("button", { type: "button", class: "chart-csv", onclick: exportCsv }, t("chart.csv")),
      el("button", { type: "button", class: "chart-png", onclick: exportPng }, t("chart.png"))),
    compact ? null : share);

  function controls() {
    stationList.replaceChildren(...state.stations.map((sid) => {
      const name = stations.find((s) => s.id === sid)?.name || sid;
      return el("li", { "data-station": sid }, name, state.stations.length > 1 ? el("button", { type: "button",
        class: "link", "aria-label": `${t("remove")}: ${name}`, onclick: () => {
          state.stations = state.stations.filter((s) => s !== sid);
          update();
        } }, "✕") : null);
    }));
    addSelect.replaceChildren(...stations.filter((s) => !state.stations.includes(s.id))
      .map((s) => el("option", { value: s.id }, s.name)));
    addBox.hidden = !addSelect.options.length;
    fromInput.value = state.from.slice(0, 10);
    toInput.value = state.to.slice(0, 10);
    aggSelect.value = state.agg;
    const query = stateQuery(state);
    link.value = `${location.origin}/datasets/${enc(id)}?${query}`;
    embed.value = `<iframe src="${location.origin}/datasets/${enc(id)}/chart?${query}" width="800" height="520" `
      + `title="${dataset.title.replace(/"/g, "&quot;")}" style="border:0"></iframe>`;
  }

  async function read(stationId) {
    const q = new URLSearchParams({ "parameter-name": state.vars.join(","), f: "covjson" });
    if (state.from || state.to) q.set("datetime", `${state.from || ".."}/${state.to || ".."}`);
    if (state.agg !== "raw") q.set("aggregate", state.agg); // means, minima (name.min), maxima (name.max)
    const found = await api(source.url(stationId, q));
    const coverage = found.type === "Coverage" ? found : found.coverages[0];
    if (!coverage) return { times: [], values: {} };
    const times = coverage.domain.axes.t.values.map((v) => Date.parse(v) / 1000);
    const names = Object.keys(coverage.ranges);
    const values = Object.fromEntries(names.map((name) => [name, coverage.ranges[name].values]));
    return { times, values };
  }

  let generation = 0;
  async function update() {
    const mine = ++generation;
    controls();
    onChange(state);
    status.textContent = t("loading");
    node.dataset.ready = "false";
    try {
      const read_ = state.vars.length ? await Promise.all(state.stations.map(read)) : [];
      if (mine !== generation) return;
      draw(read_);
    } catch (error) {
      if (mine !== generation) return;
      status.textContent = t("error", { msg: error.message });
    }
    node.dataset.ready = "true";
  }

  function draw(read_) {
    const tables = [];
    const series = [{ label: t("chart.time") }];
    const labels = [];
    const unitList = [...new Set(state.vars.map((v) => units[v]))];
    let colour = 0;
    read_.forEach((found, s) => {
      const name = stations.find((x) => x.id === state.stations[s])?.name || state.stations[s];
      if (!found.times.length) return;
      const table = [found.times];
      const missing = found.times.map(() => null);
      for (const v of state.vars) {
        const stroke = COLOURS[colour++ % COLOURS.length];
        const base = { scale: units[v] || "-", stroke, width: 1.5, spanGaps: true };
        const label = `${name} · ${v}`;
        if (state.agg === "raw") {
          table.push(found.values[v] || missing); series.push({ ...base, label }); labels.push(label);
          continue;
        }
        for (const part of ["mean", "min", "max"]) {
          table.push(found.values[part === "mean" ? v : `${v}.${part}`] || missing);
          const named = `${label} (${t(`chart.${part}`)})`;
          series.push(part === "mean" ? { ...base, label: named } : { ...base, label: named, width: 1, dash: [4, 4] });
          labels.push(named);
        }
      }
      tables.push(table);
    });
    if (plot) { plot.destroy(); plot = null; }
    node.chart = null;
    if (!tables.length) {
      shown = { labels: [], data: [[]] };
      node.dataset.points = "0";
      status.textContent = t("chart.empty");
      return;
    }
    const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
    shown = { labels, data };
    const axes = [{}, ...unitList.map((unit, i) => ({ scale: unit || "-", label: unit || undefined,
      side: i % 2 === 0 ? 3 : 1, grid: { show: i === 0 } }))];
    const low = seconds(state.from), high = seconds(state.to, true);
    const width = Math.max(280, plotBox.clientWidth || node.clientWidth || 800);
    plot = new uPlot({
      width, height: compact ? 220 : 360, series, axes,
      scales: { x: { time: true, range: (u, min, max) => [low ?? min, high ?? max] } },
      cursor: { drag: { x: true, y: false, setScale: false } },
      legend: { show: !compact },
      hooks: { setSelect: [(u) => {
        if (u.select.width < 5) return;
        const from = u.posToVal(u.select.left, "x"), to = u.posToVal(u.select.left + u.select.width, "x");
        u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
        const day = to - from > 5 * 86400 ? 86400 : 3600; // whole days for a long period, else hours
        state.from = isoTime(Math.floor(from / day) * day);
        state.to = day === 86400 ? isoTime(Math.floor(to / day) * day) : isoTime(Math.ceil(to / day) * day);
        update();
      }] },
    }, data, plotBox);
    node.chart = plot;
    node.dataset.points = String(data[0].length);
    status.textContent = t("chart.points", { n: data[0].length });
  }

  function download(href, name) {
    const a = el("a", { href, download: name });
    document.body.append(a);
    a.click();
    a.remove();
  }

  function exportCsv() {
    if (!shown) return;
    const quote = (text) => (/[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);
    const lines = [["time", ...shown.labels].map(quote).join(",")];
    shown.data[0].forEach((time, i) => {
      lines.push([new Date(time * 1000).toISOString().replace(".000Z", "Z"),
        ...shown.data.slice(1).map((col) => (col[i] === null || col[i] === undefined ? "" : String(col[i])))].join(","));
    });
    const url = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
    download(url, `${id}.csv`);
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  function exportPng() {
    if (!plot) return;
    const source = plot.ctx.canvas;
    const canvas = document.createElement("canvas");
    canvas.width = source.width;
    canvas.height = source.height;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(source, 0, 0);
    download(canvas.toDataURL("image/png"), `${id}.png`);
  }

  await update();
  return plot;
}

/** The chart section of a station dataset's or raster time stack's page, or the embeddable chart page: state in the address. */
export function chartPage(node) {
  const state = chartState(new URLSearchParams(location.search));
  return seriesChart(node, node.dataset.dataset, state, { onChange: (s) => {
    const q = new URLSearchParams(location.search);
    for (const key of ["station", "var", "from", "to", "agg"]) q.delete(key);
    for (const [key, value] of stateQuery(s)) q.append(key, value);
    history.replaceState(null, "", `${location.pathname}?${q}${location.hash}`);
  } });
}
