// Bundles the IDE: src/ide/main.ts -> ../prequel/web/static/dist/ide.js + ide.css, plus
// chunks/*.js that ide.js imports on demand (one per language).
//
//   node build.mjs                 writes the committed bundle
//   node build.mjs --outdir DIR    writes it elsewhere (`make frontend-check` compares the two)
//
// The output must be byte-for-byte reproducible from package-lock.json: no source maps, no
// legal comments, no timestamps, and the same options everywhere.
import { build } from "esbuild";
import { mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = args.indexOf("--outdir");
const outdir =
  flag >= 0 ? resolve(args[flag + 1]) : resolve(here, "../prequel/web/static/dist");

// Only our own files: a stale bundle never survives a rebuild, nothing else is touched.
mkdirSync(outdir, { recursive: true });
for (const name of readdirSync(outdir)) {
  if (/^(ide|replay-editor)\.(js|css)$/.test(name) || name === "chunks") {
    rmSync(resolve(outdir, name), { recursive: true });
  }
}

const result = await build({
  absWorkingDir: here,
  // The replay page's code view shares the editor's chunks (languages, CodeMirror).
  entryPoints: { ide: "src/ide/main.ts", "replay-editor": "src/replay/editor.ts" },
  outdir,
  // Languages load on demand (src/ide/languages.ts) from content-hashed chunks.
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2020",
  minify: true,
  sourcemap: false,
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
  metafile: true,
});

// What the page loads before any language: ide.js and the chunks it imports statically.
const outputs = result.metafile.outputs;
const entry = Object.keys(outputs).find((file) => file.endsWith("/ide.js"));
const initial = new Set();
const visit = (file) => {
  if (initial.has(file)) return;
  initial.add(file);
  for (const { path, kind } of outputs[file].imports) {
    if (kind === "import-statement") visit(path);
  }
};
visit(entry);
const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
const sum = (files) => files.reduce((total, file) => total + outputs[file].bytes, 0);
const gzipped = (files) =>
  files.reduce((total, file) => total + gzipSync(readFileSync(resolve(here, file))).length, 0);
const js = Object.keys(outputs).filter((file) => file.endsWith(".js"));
const css = Object.keys(outputs).filter((file) => file.endsWith(".css"));
const report = (label, files) =>
  console.log(`${label}: ${kib(sum(files))} minified, ${kib(gzipped(files))} gzip`);
report("initial JS (ide.js + static chunks)", [...initial]);
report(`all JS (${js.length} files, every language)`, js);
report("CSS (ide.css)", css);
