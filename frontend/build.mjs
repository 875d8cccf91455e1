// Bundles the page scripts with esbuild into src/kartenn/web/static, with hashed names listed in
// manifest.json (read by the server), and copies the offline basemap files beside them.
import * as esbuild from "esbuild";
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "kartenn", "web", "static");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await esbuild.build({
  entryPoints: { portal: join(here, "src", "portal.js"), style: join(here, "src", "portal.css") },
  bundle: true,
  minify: true,
  sourcemap: false,
  format: "esm",
  target: ["es2020"],
  outdir: out,
  entryNames: "[name]-[hash]",
  metafile: true,
  logLevel: "warning",
  absWorkingDir: here,
});

const manifest = {};
for (const [file, info] of Object.entries(result.metafile.outputs)) {
  if (!info.entryPoint) continue;
  const name = basename(file).replace(/-[A-Z0-9]+\.(js|css)$/, ".$1"); // portal-3FZ2K.js → portal.js
  manifest[name] = relative(out, join(here, file)).replaceAll("\\", "/");
}
for (const name of readdirSync(join(here, "public"))) {
  cpSync(join(here, "public", name), join(out, name));
}
writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 2));
console.log("built", Object.values(manifest).join(", "));
