// The React entry on the server: importable and renderable with no window at all.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { createElement } from "react";
import { renderToString } from "react-dom/server";

test("the package imports and server-renders without a window", async () => {
  assert.equal(typeof globalThis.window, "undefined");
  const { AscendKitProvider, useAnalytics } = await import("../src/index.js");
  let seen;
  function Button() {
    seen = useAnalytics();
    return createElement("button", null, "Buy");
  }
  const html = renderToString(createElement(AscendKitProvider, { envKey: "env_x" }, createElement(Button)));
  assert.equal(html, "<button>Buy</button>");
  assert.deepEqual(Object.keys(seen).sort(), ["flush", "track"]);
  // Tracking during server rendering is kept for the browser, never thrown.
  assert.doesNotThrow(() => seen.track("rendered"));
  await seen.flush();
});

test('the client entries are marked "use client" for the App Router', () => {
  for (const file of ["index.js", "react.js"]) {
    const source = readFileSync(new URL("../src/" + file, import.meta.url), "utf8");
    assert.match(source, /^"use client";/, file);
  }
});

test("the package's exports ship types", () => {
  const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  for (const entry of [".", "./server"]) {
    const types = manifest.exports[entry].types;
    assert.ok(readFileSync(new URL("../" + types, import.meta.url), "utf8").includes("export"), types);
  }
});
