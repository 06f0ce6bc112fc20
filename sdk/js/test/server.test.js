// @ascendkit/nextjs/server against a local fake of POST /v1/events.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { after, before, beforeEach, describe, test } from "node:test";

import { Analytics } from "../src/server.js";

const SECRET = "sk_test000000000000000000000000000000";
const ENV_KEY = "env_test0000000000000000000000";

// Answers from `answers` in turn (then 202); stores each messageId once, as the server does.
const fake = { requests: [], stored: new Map(), answers: [] };
let server;
let apiUrl;

before(async () => {
  server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      const json = JSON.parse(body);
      fake.requests.push({ url: request.url, headers: request.headers, json });
      const [status, headers] = fake.answers.shift() ?? [202, {}];
      if (status == 202) for (const item of json.events) fake.stored.set(item.messageId, item);
      response.writeHead(status, { "Content-Type": "application/json", ...headers });
      response.end(JSON.stringify(status == 202 ? { accepted: json.events.length, duplicates: 0, rejected: [] } : {}));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  apiUrl = `http://127.0.0.1:${server.address().port}`;
});
after(() => server.close());
beforeEach(() => {
  fake.requests = [];
  fake.stored = new Map();
  fake.answers = [];
});

const client = (options = {}) => new Analytics({ secretKey: SECRET, envKey: ENV_KEY, apiUrl, onError: () => {}, ...options });

describe("construction", () => {
  test("throws without ASCENDKIT_SECRET_KEY or ASCENDKIT_ENV_KEY", () => {
    const names = ["ASCENDKIT_SECRET_KEY", "ASCENDKIT_ENV_KEY", "ASCENDKIT_API_URL"];
    const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
    try {
      delete process.env.ASCENDKIT_SECRET_KEY;
      process.env.ASCENDKIT_ENV_KEY = ENV_KEY;
      assert.throws(() => new Analytics(), /ASCENDKIT_SECRET_KEY/);
      process.env.ASCENDKIT_SECRET_KEY = SECRET;
      delete process.env.ASCENDKIT_ENV_KEY;
      assert.throws(() => new Analytics(), /ASCENDKIT_ENV_KEY/);
      process.env.ASCENDKIT_ENV_KEY = ENV_KEY;
      process.env.ASCENDKIT_API_URL = apiUrl;
      const analytics = new Analytics();
      assert.equal(analytics.apiUrl, apiUrl);
      analytics.shutdown();
    } finally {
      for (const name of names) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
  });
});

describe("delivery", () => {
  test("track and flush send the events with the secret key and env key", async () => {
    const analytics = client();
    analytics.track("usr_1", "checkout.completed", { total: 99.99 }, { visitorId: "vis_AAAAAAAAAAAAAAAAAAAA" });
    analytics.track("usr_1", "app.already_prefixed");
    await analytics.flush();
    const [request] = fake.requests;
    assert.equal(request.url, "/v1/events");
    assert.equal(request.headers.authorization, "Bearer " + SECRET);
    assert.equal(request.headers["x-ascendkit-env-key"], ENV_KEY);
    assert.equal(request.headers["content-type"], "application/json");
    assert.ok(request.json.sentAt);
    const [first, second] = request.json.events;
    assert.equal(first.userId, "usr_1");
    assert.equal(first.name, "app.checkout.completed");
    assert.deepEqual(first.properties, { total: 99.99 });
    assert.equal(first.visitorId, "vis_AAAAAAAAAAAAAAAAAAAA");
    assert.match(first.messageId, /^[A-Za-z0-9]{22}$/);
    assert.equal(second.name, "app.already_prefixed");
    assert.equal(second.visitorId, undefined);
    await analytics.shutdown();
  });

  test("10 queued events are sent without a flush", async () => {
    const analytics = client();
    for (let n = 0; n < 9; n++) analytics.track("usr_1", "n" + n);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(fake.requests.length, 0);
    analytics.track("usr_1", "n9");
    for (let wait = 0; wait < 40 && fake.requests.length == 0; wait++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(fake.requests.length, 1);
    assert.equal(fake.requests[0].json.events.length, 10);
    await analytics.shutdown();
  });

  test("a 503 with Retry-After and then a 202 deliver each event once, under the same messageId", async () => {
    fake.answers = [[503, { "Retry-After": "1" }]];
    const analytics = client();
    for (let n = 0; n < 3; n++) analytics.track("usr_1", "retry_" + n);
    const started = Date.now();
    await analytics.flush();
    assert.ok(Date.now() - started >= 950, "waited for Retry-After");
    assert.equal(fake.requests.length, 2);
    assert.deepEqual(
      fake.requests[1].json.events.map((item) => item.messageId),
      fake.requests[0].json.events.map((item) => item.messageId),
    );
    assert.equal(fake.stored.size, 3);
    await analytics.shutdown();
  });

  test("429 and 5xx are retried with backoff", async () => {
    fake.answers = [[429, {}], [500, {}]];
    const analytics = client();
    analytics.track("usr_1", "busy");
    const started = Date.now();
    await analytics.flush();
    // 1 s, then 2 s.
    assert.ok(Date.now() - started >= 2900, `${Date.now() - started} ms`);
    assert.equal(fake.requests.length, 3);
    assert.equal(fake.stored.size, 1);
    await analytics.shutdown();
  });

  test("a refused batch is dropped and reported, not retried", async () => {
    fake.answers = [[400, {}]];
    const errors = [];
    const analytics = client({ onError: (error) => errors.push(error.message) });
    analytics.track("usr_1", "bad");
    await analytics.flush();
    assert.equal(fake.requests.length, 1);
    assert.match(errors[0], /refused 1 events/);
    await analytics.flush();
    assert.equal(fake.requests.length, 1);
    await analytics.shutdown();
  });

  test("track() never throws and ignores calls after shutdown", async () => {
    const analytics = client();
    const circular = {};
    circular.self = circular;
    assert.doesNotThrow(() => analytics.track("usr_1", "circular", circular));
    await analytics.shutdown();
    analytics.track("usr_1", "late");
    await analytics.flush();
    assert.equal(fake.requests.length, 0);
  });
});

describe("bounds", () => {
  test("shutdown() against a dead server returns within the flush timeout and reports the loss", async () => {
    const dead = createServer();
    await new Promise((resolve) => dead.listen(0, "127.0.0.1", resolve));
    const deadUrl = `http://127.0.0.1:${dead.address().port}`;
    await new Promise((resolve) => dead.close(resolve)); // nothing listens there now
    const errors = [];
    const analytics = client({ apiUrl: deadUrl, flushTimeoutMs: 2500, onError: (error) => errors.push(error.message) });
    analytics.track("usr_1", "lost");
    const started = Date.now();
    await analytics.shutdown();
    const took = Date.now() - started;
    assert.ok(took < 3000, `${took} ms`);
    assert.match(errors.at(-1), /1 events stay queued/);
  });

  test("the 30-second timer does not keep the process alive", () => {
    const script = `
      import { Analytics } from ${JSON.stringify(new URL("../src/server.js", import.meta.url).href)};
      const analytics = new Analytics({ secretKey: "sk_x", envKey: "env_x", apiUrl: "http://127.0.0.1:9", onError() {} });
      console.log("made");
    `;
    const started = Date.now();
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 20000 });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), "made");
    assert.ok(Date.now() - started < 10000);
  });

  test("the periodic flush sends what is queued", async () => {
    const { mock } = await import("node:test");
    mock.timers.enable({ apis: ["setInterval"] });
    try {
      const analytics = client();
      analytics.track("usr_1", "periodic");
      mock.timers.tick(30000);
      for (let wait = 0; wait < 40 && fake.stored.size == 0; wait++) await new Promise((r) => setImmediate(r));
      for (let wait = 0; wait < 40 && fake.stored.size == 0; wait++) await new Promise((r) => setTimeout(r, 25));
      assert.equal(fake.stored.size, 1);
      await analytics.shutdown();
    } finally {
      mock.timers.reset();
    }
  });
});
