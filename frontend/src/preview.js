// Small maps: a dataset's preview on its page, and the extent chooser of the search page.
import Map from "ol/Map.js";
import View from "ol/View.js";
import ImageLayer from "ol/layer/Image.js";
import { transformExtent } from "ol/proj.js";
import { defaults as defaultControls } from "ol/control/defaults.js";
import { basemapLayers } from "./basemap.js";
import { wmsSource } from "./layers.js";

function extentOf(text) {
  const values = (text || "").split(",").map(Number);
  return values.length === 4 && values.every(Number.isFinite) ? values : null;
}

function fit(map, lonlat) {
  const view = map.getView();
  if (lonlat) view.fit(transformExtent(lonlat, "EPSG:4326", "EPSG:3857"), { padding: [16, 16, 16, 16], maxZoom: 16 });
  else view.setCenter([0, 3e6]);
}

export function previewMap(node) {
  const layers = basemapLayers();
  layers.push(new ImageLayer({ source: wmsSource(node.dataset.layer) }));
  const map = new Map({ target: node, layers, controls: defaultControls({ rotate: false }),
    view: new View({ center: [0, 0], zoom: 1 }) });
  fit(map, extentOf(node.dataset.extent));
  return map;
}

export function extentMap(node, button, input, form) {
  const map = new Map({ target: node, layers: basemapLayers(), controls: defaultControls({ rotate: false, attribution: false }),
    view: new View({ center: [0, 3e6], zoom: 0 }) });
  fit(map, extentOf(node.dataset.bbox));
  button.addEventListener("click", () => {
    const extent = transformExtent(map.getView().calculateExtent(map.getSize()), "EPSG:3857", "EPSG:4326");
    const [w, s, e, n] = [Math.max(extent[0], -180), Math.max(extent[1], -90), Math.min(extent[2], 180), Math.min(extent[3], 90)];
    input.value = [w, s, e, n].map((v) => v.toFixed(4)).join(",");
    form.requestSubmit();
  });
  return map;
}
