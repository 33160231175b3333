// Builds the static site: bundles src/main.js (with @azure/msal-browser,
// spark-md5 and idb-keyval from node_modules) into app.js and the MD5
// worker src/md5worker.js into md5worker.js, ES modules, with esbuild, and
// copies index.html, styles.css and the config file.
//
//   node web/build.mjs --out build/web [--config web/config.json]
//
// A config with "csp": {"connectSrc": [...]} (the Azure build: the API
// origin, the storage accounts, the Entra ID login host) gets a
// Content-Security-Policy <meta> tag in index.html, since a static website
// sends no headers of its own; locally the development host sends the
// header instead.
import { build } from "esbuild";
import { copyFile, mkdir, readFile, writeFile, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
function arg(name, def) {
  const i = args.indexOf(name);
  if (i < 0) return def;
  if (i + 1 >= args.length) throw new Error(`${name} needs a value`);
  return args[i + 1];
}
const out = resolve(arg("--out", join(here, "..", "build", "web")));
const configPath = resolve(arg("--config", join(here, "config.json")));

const config = JSON.parse(await readFile(configPath, "utf8"));
if (!config.auth || !["dev", "msal"].includes(config.auth.mode)) {
  throw new Error(`${configPath}: auth.mode must be "dev" or "msal"`);
}

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: { app: join(here, "src", "main.js"), md5worker: join(here, "src", "md5worker.js") },
  bundle: true,
  format: "esm",
  target: ["chrome120", "firefox120", "safari17"],
  minify: true,
  sourcemap: "linked",
  legalComments: "linked",
  outdir: out,
  logLevel: "warning",
});
await copyFile(join(here, "styles.css"), join(out, "styles.css"));
await writeFile(join(out, "config.json"), JSON.stringify(config, null, 2) + "\n");

let html = await readFile(join(here, "index.html"), "utf8");
const connect = config.csp?.connectSrc;
if (connect) {
  for (const c of connect) {
    if (!/^https:\/\/[^\s;,'"]+$/.test(c)) throw new Error(`csp.connectSrc: ${c} is not an https origin`);
  }
  const policy = [
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:",
    `connect-src 'self' ${connect.join(" ")}`, "base-uri 'none'", "form-action 'self'", "object-src 'none'",
  ].join("; ");
  html = html.replace("<!--csp-->", `<meta http-equiv="Content-Security-Policy" content="${policy}">`);
}
await writeFile(join(out, "index.html"), html);
