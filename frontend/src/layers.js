// Catalogue datasets as map layers: a WMS image, or vector tiles for vector data.
import ImageLayer from "ol/layer/Image.js";
import ImageWMS from "ol/source/ImageWMS.js";
import VectorTileLayer from "ol/layer/VectorTile.js";
import VectorTileSource from "ol/source/VectorTile.js";
import MVT from "ol/format/MVT.js";
import { Circle as CircleStyle, Fill, Stroke, Style } from "ol/style.js";

const COLOURS = ["#1f6fb2", "#b4451f", "#2e7d32", "#7b1fa2", "#c77700", "#00838f"];

export function wmsSource(id, extra = {}) {
  return new ImageWMS({ url: "/wms", params: { LAYERS: id, STYLES: "", FORMAT: "image/png", TRANSPARENT: true, ...extra },
    ratio: 1.2, crossOrigin: "anonymous" });
}

function vectorStyle(index) {
  const colour = COLOURS[index % COLOURS.length];
  const stroke = new Stroke({ color: colour, width: 1.4 });
  const fill = new Fill({ color: colour + "40" });
  return new Style({ stroke, fill, image: new CircleStyle({ radius: 4, fill: new Fill({ color: colour }),
    stroke: new Stroke({ color: "#fff", width: 1 }) }) });
}

/** The vector tiles' URL template; with ``datetime`` (an instant or start/end), the server keeps only the features
 * of that time (OGC API Tiles' datetime). */
export function tileUrl(id, datetime = null) {
  const when = datetime ? `&datetime=${encodeURIComponent(datetime)}` : "";
  return `/ogc/collections/${encodeURIComponent(id)}/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt${when}`;
}

/** An OpenLayers layer showing ``dataset`` (the JSON of /api/v1/datasets/{id}) in ``mode`` wms or mvt; a WMS
 * image drawn with the named ``style`` (default: the dataset's default style); at the time ``datetime`` when given. */
export function datasetLayer(dataset, mode, index = 0, style = "", datetime = null) {
  if (mode === "mvt" && dataset.kind === "vector") {
    return new VectorTileLayer({
      source: new VectorTileSource({ format: new MVT(), url: tileUrl(dataset.id, datetime) }),
      style: vectorStyle(index), declutter: false,
    });
  }
  return new ImageLayer({ source: wmsSource(dataset.id, { STYLES: style || "", ...(datetime ? { TIME: datetime } : {}) }) });
}

export function legendUrl(id, style = "") {
  const q = new URLSearchParams({ service: "WMS", version: "1.3.0", request: "GetLegendGraphic", format: "image/png",
    layer: id, sld_version: "1.1.0", ...(style ? { style } : {}) });
  return `/wms?${q}`;
}
