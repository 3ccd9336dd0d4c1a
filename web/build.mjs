// Bundles the console into internal/web/dist, which the Go binary embeds.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";

const out = "../internal/web/dist";
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: "src/app.ts" },
  bundle: true,
  minify: true,
  sourcemap: false,
  target: ["chrome100", "safari15"],
  outdir: out,
  logLevel: "warning",
});
copyFileSync("index.html", `${out}/index.html`);

// Every key the code names literally must be in both catalogues.
import { readFileSync, readdirSync } from "node:fs";
const files = ["src", "src/pages"].flatMap((d) => readdirSync(d).filter((f) => f.endsWith(".ts")).map((f) => `${d}/${f}`));
const i18n = readFileSync("src/i18n.ts", "utf8");
const [zhPart, enPart] = i18n.split("const en:");
const missing = [];
for (const f of files) {
  for (const m of readFileSync(f, "utf8").matchAll(/\bt\("([\w.]+)"\s*[,)]/g)) {
    for (const [lang, part] of [["zh-CN", zhPart], ["en", enPart]]) {
      if (!part.includes(`"${m[1]}":`)) missing.push(`${f}: ${m[1]} (${lang})`);
    }
  }
}
if (missing.length) {
  console.error("message keys missing from src/i18n.ts:\n  " + [...new Set(missing)].join("\n  "));
  process.exit(1);
}
