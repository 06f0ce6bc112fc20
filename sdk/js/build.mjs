// Builds the script tag's file, static/ascendkit/ascendkit.js, from src/script.js.
// `node build.mjs --outfile PATH` writes elsewhere (the staleness test compares the two).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const flag = process.argv.indexOf("--outfile");
const outfile = flag > 0 ? process.argv[flag + 1] : here("../../static/ascendkit/ascendkit.js");

await build({
  entryPoints: [here("src/script.js")],
  outfile,
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  legalComments: "none",
  banner: { js: "/* AscendKit Analytics browser SDK. Built from sdk/js by `npm run build`: do not edit. */" },
  logLevel: "warning",
});
