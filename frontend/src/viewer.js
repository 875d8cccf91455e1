// The map viewer (/map): catalogue layers over the offline basemap, order, opacity, legend, feature info,
// measure, PNG export, a time slider (an instant or a period, played step by step; it filters WMS images by TIME
// and vector tiles by datetime, on the server) and charts of stations and of raster stacks' pixels; the map's state
// lives in the URL (?layers=…&view=…&time=…).
import Map from "ol/Map.js";
import View from "ol/View.js";
import VectorLayer from "ol/layer/Vector.js";
import VectorSource from "ol/source/Vector.js";
import Draw from "ol/interaction/Draw.js";
import ScaleLine from "ol/control/ScaleLine.js";
import { defaults as defaultControls } from "ol/control/defaults.js";
import { fromLonLat, toLonLat, transformExtent } from "ol/proj.js";
import { getLength } from "ol/sphere.js";
import { Stroke, Style } from "ol/style.js";
import { api, el, t } from "./api.js";
import { basemapLayers, OCEAN } from "./basemap.js";
import { datasetLayer, legendUrl, tileUrl, wmsSource } from "./layers.js";
import { seriesChart } from "./chart.js";

const STEPS = 100; // a layer with more distinct times than the server lists: that many steps over its range

/** The dates a layer's slider steps through: its times, or even steps over their range (dates for a date field). */
function timeSteps(time) {
  if (!time) return [];
  if (time.values) return time.values;
  if (!time.start || !time.end) return [];
  const low = Date.parse(time.start), high = Date.parse(time.end);
  const dateOnly = !time.start.includes("T");
  const steps = [];
  for (let i = 0; i <= STEPS; i++) {
    const text = new Date(low + (high - low) * i / STEPS).toISOString().replace(".000Z", "Z");
    const step = dateOnly ? text.slice(0, 10) : text;
    if (steps[steps.length - 1] !== step) steps.push(step);
  }
  return steps;
}

/** An entry's time as TIME/datetime: an instant, or start/end; null when every time is shown. */
function datetimeOf(entry) {
  if (!entry.time) return null;
  return entry.time.start === entry.time.end ? entry.time.start : `${entry.time.start}/${entry.time.end}`;
}

export function viewer(node) {
  const basemap = basemapLayers(node.dataset.basemapUrl, node.dataset.basemapAttribution);
  const measureSource = new VectorSource();
  const measureLayer = new VectorLayer({ source: measureSource, zIndex: 1000,
    style: new Style({ stroke: new Stroke({ color: "#c62828", width: 2, lineDash: [6, 4] }) }) });
  const map = new Map({ target: node, layers: [...basemap, measureLayer], keyboardEventTarget: node,
    controls: defaultControls({ rotate: false }).extend([new ScaleLine()]),
    view: new View({ center: fromLonLat([2.5, 46.5]), zoom: 5 }) });
  const entries = []; // {dataset, mode, opacity, style, layer, query, item}, bottom first
  const list = document.getElementById("layers");
  const empty = document.getElementById("no-layers");

  const params = new URLSearchParams(location.search);
  const viewParam = (params.get("view") || "").split(",").map(Number);
  const hasView = viewParam.length === 3 && viewParam.every(Number.isFinite);
  if (hasView) map.getView().setCenter(fromLonLat(viewParam.slice(0, 2))), map.getView().setZoom(viewParam[2]);
  // ?time=id~start~end,…: the time each layer shows
  const times = Object.fromEntries((params.get("time") || "").split(",").filter(Boolean).map((part) => {
    const [id, start, end] = part.split("~");
    return [id, { start, end: end || start }];
  }));

  function saveState() {
    const q = new URLSearchParams(location.search);
    q.delete("lang");
    const layers = entries.map((e) => [e.dataset.id, e.mode, e.opacity === 1 ? "" : e.opacity.toFixed(2), e.style]
      .join("~").replace(/~+$/, ""));
    if (layers.length) q.set("layers", layers.join(",")); else q.delete("layers");
    const timed = entries.filter((e) => e.time).map((e) => [e.dataset.id, e.time.start, e.time.end].join("~"));
    if (timed.length) q.set("time", timed.join(",")); else q.delete("time");
    const [lon, lat] = toLonLat(map.getView().getCenter());
    q.set("view", [lon.toFixed(5), lat.toFixed(5), (map.getView().getZoom() || 0).toFixed(2)].join(","));
    history.replaceState(null, "", `${location.pathname}?${q}`);
  }

  function redraw() {
    entries.forEach((e, i) => e.layer.setZIndex(10 + i));
    list.replaceChildren(...entries.slice().reverse().map((e) => e.item));
    empty.hidden = entries.length > 0;
    saveState();
  }

  function layerItem(entry) {
    const id = entry.dataset.id;
    const opacity = el("input", { type: "range", min: "0", max: "1", step: "0.05", value: String(entry.opacity),
      id: `opacity-${id}`, oninput: (ev) => { entry.opacity = Number(ev.target.value); entry.layer.setOpacity(entry.opacity); saveState(); } });
    const move = (delta) => () => {
      const i = entries.indexOf(entry);
      const j = i + delta;
      if (j < 0 || j >= entries.length) return;
      entries.splice(i, 1); entries.splice(j, 0, entry); redraw();
    };
    const modeSelect = entry.dataset.kind === "vector" ? el("select", { id: `mode-${id}`, onchange: (ev) => {
      entry.mode = ev.target.value; replaceLayer(entry); saveState(); } },
      el("option", { value: "wms", selected: entry.mode === "wms" }, t("mode.wms")),
      el("option", { value: "mvt", selected: entry.mode === "mvt" }, t("mode.mvt"))) : null;
    const time = timeControl(entry);
    return el("li", { class: "layer", "data-layer": id },
      el("div", { class: "layer-head" }, el("strong", {}, el("a", { href: `/datasets/${encodeURIComponent(id)}` }, entry.dataset.title)),
        el("span", { class: "layer-buttons" },
          el("button", { type: "button", title: t("up"), "aria-label": `${t("up")}: ${entry.dataset.title}`, onclick: move(1) }, "▲"),
          el("button", { type: "button", title: t("down"), "aria-label": `${t("down")}: ${entry.dataset.title}`, onclick: move(-1) }, "▼"),
          el("button", { type: "button", title: t("remove"), "aria-label": `${t("remove")}: ${entry.dataset.title}`, onclick: () => removeLayer(entry) }, "✕"))),
      el("label", { for: `opacity-${id}` }, t("opacity")), opacity,
      modeSelect ? el("label", { for: `mode-${id}` }, t("mode")) : null, modeSelect, time,
      el("details", {}, el("summary", {}, t("legend")), el("img", { src: legendUrl(id, entry.style), alt: `${t("legend")}: ${entry.dataset.title}`, loading: "lazy" })));
  }

  // The time slider: one date, or a period (two handles); play steps through the dates, a period keeping its length.
  function timeControl(entry) {
    const values = timeSteps(entry.dataset.time);
    if (!values.length) return null;
    const id = entry.dataset.id;
    const last = values.length - 1;
    const at = (value, fallback) => (values.indexOf(value) >= 0 ? values.indexOf(value) : fallback);
    const label = el("output", { id: `time-out-${id}` }, values[last]);
    const start = el("input", { type: "range", min: "0", max: String(last), step: "1", id: `time-${id}`,
      value: String(entry.time ? at(entry.time.start, last) : last), oninput: () => choose() });
    const end = el("input", { type: "range", min: "0", max: String(last), step: "1", id: `time-end-${id}`,
      value: String(entry.time ? at(entry.time.end, last) : last), oninput: () => choose(true) });
    const period = el("input", { type: "checkbox", id: `time-range-${id}`,
      checked: Boolean(entry.time && entry.time.start !== entry.time.end), onchange: () => choose() });
    const endBox = el("div", { hidden: !period.checked }, el("label", { for: end.id }, t("time_end")), end);
    let timer = null;
    const play = el("button", { type: "button", id: `time-play-${id}`, "aria-pressed": "false", onclick: () => {
      if (timer) { stop(); return; }
      timer = setInterval(() => step(1, true), 1500);
      play.setAttribute("aria-pressed", "true");
      play.textContent = `⏸ ${t("pause")}`;
      step(1, true);
    } }, `▶ ${t("play")}`);
    function stop() {
      clearInterval(timer);
      timer = null;
      play.setAttribute("aria-pressed", "false");
      play.textContent = `▶ ${t("play")}`;
    }
    entry.stopTime = stop;
    function step(delta, loop = false) {
      let a = Number(start.value) + delta;
      let b = (period.checked ? Number(end.value) : Number(start.value)) + delta;
      if (b > last || a < 0) {
        if (!loop) return;
        b -= a; a = 0; // back to the first date, the period keeping its length
      }
      start.value = String(a);
      end.value = String(b);
      choose();
    }
    function choose(endMoved = false) {
      endBox.hidden = !period.checked;
      let a = Number(start.value), b = period.checked ? Number(end.value) : a;
      if (b < a) {
        if (endMoved) a = b; else b = a;
        start.value = String(a); end.value = String(b);
      }
      entry.time = { start: values[a], end: values[b] };
      label.textContent = a === b ? values[a] : `${values[a]} – ${values[b]}`;
      applyTime(entry);
      saveState();
    }
    if (entry.time) label.textContent = entry.time.start === entry.time.end ? entry.time.start
      : `${entry.time.start} – ${entry.time.end}`;
    return el("div", { class: "time" }, el("label", { for: start.id }, t("time")), start, label,
      el("label", { class: "check" }, period, ` ${t("time_range")}`), endBox,
      el("div", { class: "time-buttons" },
        el("button", { type: "button", id: `time-back-${id}`, "aria-label": t("step_back"), title: t("step_back"),
          onclick: () => step(-1) }, "⏮"),
        play,
        el("button", { type: "button", id: `time-next-${id}`, "aria-label": t("step_forward"), title: t("step_forward"),
          onclick: () => step(1) }, "⏭")));
  }

  // The chosen time on the layer: TIME on WMS images, datetime on vector tiles (filtered by the server, so that
  // a tile holds only the features of that time).
  function applyTime(entry) {
    const when = datetimeOf(entry);
    entry.query.updateParams({ TIME: when || undefined });
    const source = entry.layer.getSource();
    if (source.updateParams) source.updateParams({ TIME: when || undefined });
    else if (source.setUrl) source.setUrl(tileUrl(entry.dataset.id, when));
  }

  function replaceLayer(entry) {
    map.removeLayer(entry.layer);
    entry.layer = datasetLayer(entry.dataset, entry.mode, entries.indexOf(entry), entry.style, datetimeOf(entry));
    entry.layer.setOpacity(entry.opacity);
    map.addLayer(entry.layer);
    redraw();
  }

  function removeLayer(entry) {
    if (entry.stopTime) entry.stopTime();
    map.removeLayer(entry.layer);
    entries.splice(entries.indexOf(entry), 1);
    redraw();
  }

  // A named style (a saved map's, e.g. a GeoServer layer group's) is drawn by the server: the layer is a WMS image.
  async function addLayer(id, mode, opacity = 1, fitTo = false, style = "") {
    if (entries.some((e) => e.dataset.id === id)) return;
    const dataset = await api(`/api/v1/datasets/${encodeURIComponent(id)}`);
    const entry = { dataset, mode: mode || (dataset.kind === "vector" && !style ? "mvt" : "wms"), opacity,
      style: style || "", query: wmsSource(id, { STYLES: style || "" }) };
    if (entry.mode === "mvt" && dataset.kind !== "vector") entry.mode = "wms";
    const known = timeSteps(dataset.time);
    const restored = times[id];
    if (restored && known.includes(restored.start) && known.includes(restored.end)) entry.time = restored;
    if (entry.time) entry.query.updateParams({ TIME: datetimeOf(entry) });
    entry.layer = datasetLayer(dataset, entry.mode, entries.length, entry.style, datetimeOf(entry));
    entry.layer.setOpacity(opacity);
    entry.item = layerItem(entry);
    entries.push(entry);
    map.addLayer(entry.layer);
    redraw();
    if (fitTo && dataset.extent_wgs84) {
      map.getView().fit(transformExtent(dataset.extent_wgs84, "EPSG:4326", "EPSG:3857"), { padding: [30, 30, 30, 30], maxZoom: 16 });
    }
  }

  // Layers from the URL (?layers=id~mode~opacity~style,…) or from a saved map (?saved=ID); one at a time, so the
  // order is kept.
  async function restore() {
    const saved = params.get("saved");
    if (saved) {
      const found = await api(`/api/v1/maps/${encodeURIComponent(saved)}`).catch(() => null);
      if (found) {
        for (const layer of found.map.layers) {
          await addLayer(layer.dataset, layer.kind === "vector" ? "mvt" : "wms", layer.opacity ?? 1, false,
            layer.style || "").catch(() => null);
        }
        if (!hasView && found.map.extent) {
          map.getView().fit(transformExtent(found.map.extent, "EPSG:4326", "EPSG:3857"), { padding: [10, 10, 10, 10] });
        }
        return;
      }
    }
    const initial = (params.get("layers") || "").split(",").filter(Boolean).map((part) => part.split("~"));
    for (const [id, mode, opacity, style] of initial) {
      await addLayer(id, mode, opacity ? Number(opacity) : 1, !hasView && initial.length === 1, style).catch(() => null);
    }
  }
  restore().then(() => node.setAttribute("data-ready", "true"));

  // Saving the map for others ("map templates"): layers, opacity and extent.
  const saveForm = document.getElementById("save-map");
  if (saveForm) {
    saveForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const result = document.getElementById("save-result");
      const org = document.getElementById("save-org");
      const extent = transformExtent(map.getView().calculateExtent(map.getSize()), "EPSG:3857", "EPSG:4326");
      const body = {
        title: document.getElementById("save-title").value,
        org: org && org.value ? org.value : null,
        public: document.getElementById("save-public").checked,
        map: { layers: entries.map((e) => ({ dataset: e.dataset.id, kind: e.mode === "mvt" ? "vector" : "wms",
          opacity: e.opacity, style: e.style || null })), extent },
      };
      try {
        const saved = await api("/api/v1/maps", { method: "POST", body: JSON.stringify(body),
          headers: { "Content-Type": "application/json" } });
        const url = `${location.origin}/map?saved=${encodeURIComponent(saved.id)}`;
        result.replaceChildren(t("map_saved", { url: "" }), el("a", { href: url, id: "saved-link" }, url));
      } catch (error) {
        result.textContent = t("map_save_failed", { error: error.message });
      }
    });
  }
  map.on("moveend", saveState);

  // Adding layers from the catalogue.
  const results = document.getElementById("layer-results");
  document.getElementById("layer-search").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const q = document.getElementById("layer-q").value;
    results.replaceChildren(el("li", { class: "meta" }, t("loading")));
    try {
      const found = await api(`/api/v1/records?${new URLSearchParams({ q, limit: "10" })}`);
      const items = found.records.filter((r) => r.dataset_id).map((r) => el("li", {},
        el("span", {}, r.title || r.id),
        el("button", { type: "button", "aria-label": `${t("add")}: ${r.title || r.id}`,
          onclick: () => addLayer(r.dataset_id, null, 1, true).catch((e) => alert(e.message)) }, t("add"))));
      results.replaceChildren(...(items.length ? items : [el("li", { class: "meta" }, t("no_result"))]));
    } catch (error) {
      results.replaceChildren(el("li", { class: "meta" }, t("error", { msg: error.message })));
    }
  });

  // Feature info on click: WMS GetFeatureInfo (JSON) on every layer, top first.
  const panel = document.getElementById("info-panel");
  const info = document.getElementById("info-body");
  document.getElementById("info-close").addEventListener("click", () => { panel.hidden = true; });
  let measuring = false;
  map.on("singleclick", async (ev) => {
    if (measuring || !entries.length) return;
    const resolution = map.getView().getResolution();
    const shown = entries.slice().reverse();
    panel.hidden = false;
    info.replaceChildren(el("p", {}, t("loading")));
    const answers = await Promise.all(shown.map(async (entry) => {
      const url = entry.query.getFeatureInfoUrl(ev.coordinate, resolution, "EPSG:3857",
        { INFO_FORMAT: "application/json", FEATURE_COUNT: 5 });
      try {
        return { entry, features: (await api(url)).features || [] };
      } catch (error) {
        return { entry, features: [], error };
      }
    }));
    const blocks = answers.filter((a) => a.features.length).flatMap(({ entry, features }) => features.map((f) => [
      el("table", { class: "feature", "data-layer": entry.dataset.id },
        el("caption", {}, `${entry.dataset.title} — ${f.id ?? ""}`),
        el("tbody", {}, Object.entries(f.properties || {}).map(([k, v]) =>
          el("tr", {}, el("th", { scope: "row" }, k), el("td", {}, v === null ? "" : String(v)))))),
      stationChart(entry, f)]));
    const [lon, lat] = toLonLat(ev.coordinate);
    blocks.push(...shown.map((entry) => pixelChart(entry, lon, lat)).filter(Boolean));
    info.replaceChildren(...(blocks.length ? blocks.flat().filter(Boolean) : [el("p", {}, t("no_feature"))]));
    for (const chart of info.querySelectorAll(".series-chart")) {
      seriesChart(chart, chart.dataset.dataset, { stations: [chart.dataset.station], vars: [], from: "", to: "",
        agg: "raw" }, { compact: true }).catch((error) => { chart.textContent = t("error", { msg: error.message }); });
    }
  });

  // A station of a station dataset: its chart, and a link to the full chart on the dataset's page.
  function stationChart(entry, feature) {
    const key = entry.dataset.series?.station;
    const station = key ? feature.properties?.[key] : undefined;
    if (station === undefined || station === null) return null;
    return seriesLink(entry.dataset, String(station), t("chart.open"));
  }

  function seriesLink(dataset, station, label) {
    const href = `/datasets/${encodeURIComponent(dataset.id)}?${new URLSearchParams({ station })}#chart`;
    return el("div", { class: "station-chart" },
      el("div", { class: "series-chart", "data-dataset": dataset.id, "data-station": station }),
      el("p", {}, el("a", { href, class: "chart-open" }, label)));
  }

  // A pixel of a raster time stack: the chart of its series (the cell holding the point), and a link to the full one.
  function pixelChart(entry, lon, lat) {
    const { kind, time, extent_wgs84: extent } = entry.dataset;
    if (kind !== "raster" || !time?.values) return null;
    if (extent && (lon < extent[0] || lon > extent[2] || lat < extent[1] || lat > extent[3])) return null;
    const round = (v) => String(Math.round(v * 10000) / 10000);
    return seriesLink(entry.dataset, `${round(lon)},${round(lat)}`, t("chart.open_point"));
  }

  // Measure a distance.
  const measureButton = document.getElementById("measure");
  const measureResult = document.getElementById("measure-result");
  let draw = null;
  measureButton.addEventListener("click", () => {
    measuring = !measuring;
    measureButton.setAttribute("aria-pressed", String(measuring));
    if (measuring) {
      measureSource.clear();
      draw = new Draw({ source: measureSource, type: "LineString" });
      draw.on("drawend", (e) => {
        const metres = getLength(e.feature.getGeometry());
        measureResult.textContent = t("length", { d: metres > 10000 ? `${(metres / 1000).toFixed(2)} km` : `${metres.toFixed(1)} m` });
      });
      map.addInteraction(draw);
      measureResult.textContent = t("measure_hint");
    } else if (draw) {
      map.removeInteraction(draw);
      draw = null;
    }
  });

  // Export the map as a PNG image.
  document.getElementById("export-png").addEventListener("click", () => {
    map.once("rendercomplete", () => {
      const [width, height] = map.getSize();
      const ratio = window.devicePixelRatio || 1;
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = OCEAN;
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      for (const layerCanvas of map.getViewport().querySelectorAll(".ol-layer canvas, canvas.ol-layer")) {
        if (!layerCanvas.width) continue;
        const opacity = layerCanvas.parentNode.style.opacity || layerCanvas.style.opacity;
        ctx.globalAlpha = opacity === "" ? 1 : Number(opacity);
        const transform = layerCanvas.style.transform;
        const matrix = transform && transform.startsWith("matrix(")
          ? transform.slice(7, -1).split(",").map(Number)
          : [parseFloat(layerCanvas.style.width) / layerCanvas.width, 0, 0, parseFloat(layerCanvas.style.height) / layerCanvas.height, 0, 0];
        ctx.setTransform(matrix[0] * ratio, matrix[1], matrix[2], matrix[3] * ratio, matrix[4] * ratio, matrix[5] * ratio);
        ctx.drawImage(layerCanvas, 0, 0);
      }
      ctx.globalAlpha = 1;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      const link = el("a", { href: canvas.toDataURL("image/png"), download: "map.png" });
      document.body.append(link);
      link.click();
      link.remove();
    });
    map.renderSync();
  });
  return map;
}
