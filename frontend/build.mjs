// Bundle the dashboard (our code + Chart.js) into the Python package's static files.
// Reproducible: pinned versions in package-lock.json, no source maps, no timestamps.
import { build } from "esbuild";
import { copyFileSync } from "node:fs";

const out = "../src/emotiondesk/web/static";
await build({
  entryPoints: ["src/main.js"],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  legalComments: "eof",
  outfile: `${out}/dashboard.js`,
  logLevel: "info",
});
copyFileSync("src/dashboard.css", `${out}/dashboard.css`);
