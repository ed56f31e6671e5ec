// Build the web view into server/metaflow_lsp/web/static/: one bundled, minified script (no eval,
// no inline script), the stylesheet and the page. Run by scripts/build_web.sh after `tsc --noEmit`.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "server", "metaflow_lsp", "web", "static");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [join(here, "src", "main.ts")],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2021"],
  platform: "browser",
  legalComments: "external",
  outfile: join(out, "app.js"),
  logLevel: "warning",
});
for (const name of ["index.html", "app.css"]) {
  copyFileSync(join(here, "src", name), join(out, name));
}
console.log(`built ${readdirSync(out).sort().join(", ")} into ${out}`);
