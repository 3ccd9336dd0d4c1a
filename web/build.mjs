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
