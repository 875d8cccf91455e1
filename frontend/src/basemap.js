// The basemap under every map: Natural Earth countries and lakes shipped with the portal (offline),
// or XYZ tiles when the site configures basemap_url.
import VectorLayer from "ol/layer/Vector.js";
import TileLayer from "ol/layer/Tile.js";
import VectorSource from "ol/source/Vector.js";
import XYZ from "ol/source/XYZ.js";
import TopoJSON from "ol/format/TopoJSON.js";
import GeoJSON from "ol/format/GeoJSON.js";
import { Fill, Stroke, Style } from "ol/style.js";

export const OCEAN = "#dbe9f4";
const land = new Style({ fill: new Fill({ color: "#f4f1ea" }), stroke: new Stroke({ color: "#a7a29a", width: 0.6 }) });
const lakes = new Style({ fill: new Fill({ color: OCEAN }), stroke: new Stroke({ color: "#9dbbd4", width: 0.5 }) });

export function basemapLayers(url = "", attribution = "") {
  if (url) {
    return [new TileLayer({ source: new XYZ({ url, attributions: attribution || undefined, crossOrigin: "anonymous" }),
      properties: { basemap: true } })];
  }
  return [
    new VectorLayer({
      source: new VectorSource({ url: "/static/basemap-countries-50m.topojson",
        format: new TopoJSON({ layers: ["countries"] }), attributions: "Natural Earth" }),
      style: land, properties: { basemap: true },
    }),
    new VectorLayer({
      source: new VectorSource({ url: "/static/basemap-lakes-110m.geojson", format: new GeoJSON() }),
      style: lakes, properties: { basemap: true },
    }),
  ];
}
