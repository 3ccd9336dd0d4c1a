// Checks the message catalogues, then bundles the console into
// internal/web/dist, which the Go binary embeds.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, readdirSync } from "node:fs";

// Every key the code names literally must be in both catalogues (keys built
// at run time, such as "kind." + kind, are not checked here).
const files = ["src", "src/pages"].flatMap((d) => readdirSync(d).filter((f) => f.endsWith(".ts")).map((f) => `${d}/${f}`));
// The owner's side and issue 13's later strings keep catalogues of their
// own (zh, then en), merged by i18n.ts.
const [zhPart, enPart] = [["src/i18n.ts", "const en:"], ["src/owner_i18n.ts", "export const ownerEn"], ["src/i18n_more.ts", "const en:"]]
  .map(([f, sep]) => readFileSync(f, "utf8").split(sep))
  .reduce(([z, e], [fz, fe]) => [z + fz, e + fe], ["", ""]);
const missing = new Set();
for (const f of files) {
  for (const m of readFileSync(f, "utf8").matchAll(/\bt\("([\w.]+)"\s*[,)]/g)) {
    for (const [lang, part] of [["zh-CN", zhPart], ["en", enPart]]) {
      if (!part.includes(`"${m[1]}":`)) missing.add(`${f}: ${m[1]} (${lang})`);
    }
  }
}
if (missing.size) {
  console.error("message keys missing from src/i18n.ts:\n  " + [...missing].join("\n  "));
  process.exit(1);
}

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
