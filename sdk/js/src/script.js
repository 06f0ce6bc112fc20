// The script tag: <script src=".../ascendkit.js" data-env-key="env_…" data-api-url="…">.
// Without data-api-url the API is the host the script came from.

import { createClient } from "./client.js";

const script = document.currentScript || document.querySelector("script[data-env-key]");
const envKey = script && script.dataset.envKey;
if (envKey) {
  window.AscendKit = createClient({ envKey, apiUrl: script.dataset.apiUrl || new URL(script.src).origin });
} else {
  console.warn("AscendKit: the script tag needs data-env-key.");
}
