// Build the extension: bundle src/extension.ts (and vscode-languageclient) into dist/extension.js,
// and copy the web view's built app (server/metaflow_lsp/web/static, committed in this repository)
// into media/static/, which the webview loads. `--tests` also bundles test/*.test.ts and the
// Playwright test's bridge into dist-test/ for `node --test`; `--production` minifies.
import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const production = process.argv.includes("--production");
const tests = process.argv.includes("--tests");

const staticSource = join(here, "..", "..", "server", "metaflow_lsp", "web", "static");
const staticOut = join(here, "media", "static");
const assets = ["app.js", "app.css", "app.js.LEGAL.txt"];
for (const name of ["app.js", "app.css"]) {
  if (!existsSync(join(staticSource, name))) {
    console.error(`${join(staticSource, name)} is missing: run scripts/build_web.sh first`);
    process.exit(1);
  }
}
rmSync(staticOut, { recursive: true, force: true });
mkdirSync(staticOut, { recursive: true });
for (const name of assets) {
  if (existsSync(join(staticSource, name))) copyFileSync(join(staticSource, name), join(staticOut, name));
}

const common = {
  bundle: true,
  platform: "node",
  format: "cjs",
  target: ["node18"],
  sourcemap: production ? false : "linked",
  minify: production,
  logLevel: "warning",
};

await build({
  ...common,
  entryPoints: [join(here, "src", "extension.ts")],
  external: ["vscode"],
  outfile: join(here, "dist", "extension.js"),
});

if (tests) {
  const testDir = join(here, "test");
  const entries = readdirSync(testDir)
    .filter((name) => name.endsWith(".test.ts") || name === "bridge.ts")
    .map((name) => join(testDir, name));
  rmSync(join(here, "dist-test"), { recursive: true, force: true });
  await build({ ...common, entryPoints: entries, outdir: join(here, "dist-test") });
}
console.log(`built dist/extension.js${tests ? " and dist-test/" : ""}; web view assets in media/static/`);
