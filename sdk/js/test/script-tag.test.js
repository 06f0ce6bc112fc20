// The committed static build, run as a page runs it: a <script data-env-key> tag.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, mock, test } from "node:test";
import vm from "node:vm";

import { fakeBrowser, settle } from "./fake-browser.js";

const BUILD = readFileSync(new URL("../../../static/ascendkit/ascendkit.js", import.meta.url), "utf8");

function runScriptTag(page, dataset, src = "https://analytics.example/static/ascendkit/ascendkit.js") {
  page.document.currentScript = { dataset, src };
  const context = vm.createContext({
    ...page.window,
    crypto,
    TextEncoder,
    URL,
    Intl,
    setTimeout,
    clearTimeout,
    console: { warn: (message) => page.warnings.push(message) },
  });
  context.window = context;
  page.warnings = [];
  vm.runInContext(BUILD, context);
  return context;
}

beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"] }));
afterEach(() => mock.timers.reset());

test("the script tag exposes window.AscendKit with the API of SPEC 6", () => {
  const page = fakeBrowser();
  const window = runScriptTag(page, { envKey: "env_tag000000000000000000000000", apiUrl: "https://api.example" });
  assert.deepEqual(Object.keys(window.AscendKit).sort(), [
    "flush",
    "login",
    "logout",
    "optOut",
    "setUserToken",
    "signup",
    "track",
    "visitorId",
  ]);
  assert.match(window.AscendKit.visitorId(), /^vis_/);
});

test("the script tag sends to data-api-url with its env key", async () => {
  const page = fakeBrowser();
  const window = runScriptTag(page, { envKey: "env_tag000000000000000000000000", apiUrl: "https://api.example/" });
  window.AscendKit.track("tag_loaded");
  await window.AscendKit.flush();
  // The landing pageview goes at once; the event in the next batch.
  assert.deepEqual(
    page.requests.map((request) => [request.url, request.json.envKey, request.json.events.map((i) => i.name ?? i.type)]),
    [
      ["https://api.example/v1/analytics/collect", "env_tag000000000000000000000000", ["pageview"]],
      ["https://api.example/v1/analytics/collect", "env_tag000000000000000000000000", ["app.tag_loaded"]],
    ],
  );
});

test("without data-api-url the API is where the script came from", async () => {
  const page = fakeBrowser();
  const window = runScriptTag(page, { envKey: "env_tag000000000000000000000000" });
  await window.AscendKit.flush();
  await settle();
  assert.equal(page.requests[0].url, "https://analytics.example/v1/analytics/collect");
});

test("without data-env-key the script warns and sends nothing", () => {
  const page = fakeBrowser();
  const window = runScriptTag(page, {});
  assert.equal(window.AscendKit, undefined);
  assert.match(page.warnings[0], /data-env-key/);
  page.hide();
  assert.equal(page.beacons.length + page.requests.length, 0);
});
