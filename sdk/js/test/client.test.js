import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, mock, test } from "node:test";

import { BEACON_MAX_BYTES, createClient } from "../src/client.js";
import { answer, collected, fakeBrowser, settle, USER_AGENT } from "./fake-browser.js";

const ENV_KEY = "env_test0000000000000000000000";
const API = "https://api.example";
const start = (page, options = {}) => createClient({ envKey: ENV_KEY, apiUrl: API, ...options }, page.window);
const queued = (page) => JSON.parse(page.storage.get("ak_q_" + ENV_KEY) ?? "[]");

beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: Date.parse("2026-11-29T10:00:00Z") }));
afterEach(() => mock.timers.reset());

describe("the first page load", () => {
  test("sets a one-year SameSite=Lax ak_vid cookie, Secure on https", () => {
    const page = fakeBrowser();
    const client = start(page);
    assert.match(client.visitorId(), /^vis_[A-Za-z0-9]{22}$/);
    assert.equal(page.cookies.get("ak_vid"), client.visitorId());
    assert.equal(page.cookieWrites.at(-1), `ak_vid=${client.visitorId()}; Max-Age=31536000; Path=/; SameSite=Lax; Secure`);
  });

  test("leaves Secure off on plain http", () => {
    const page = fakeBrowser({ href: "http://localhost:3000/" });
    start(page);
    assert.doesNotMatch(page.cookieWrites.at(-1), /Secure/);
  });

  test("keeps a valid visitor cookie and replaces a malformed one", () => {
    const kept = fakeBrowser({ cookies: new Map([["ak_vid", "vis_AAAAAAAAAAAAAAAAAAAA"]]) });
    assert.equal(start(kept).visitorId(), "vis_AAAAAAAAAAAAAAAAAAAA");
    const replaced = fakeBrowser({ cookies: new Map([["ak_vid", "vis_short"]]) });
    assert.notEqual(start(replaced).visitorId(), "vis_short");
  });

  test("sends a pageview with URL, referrer, title and the context, as text/plain with the env key in the body", async () => {
    const page = fakeBrowser();
    const client = start(page);
    await client.flush();
    const [request] = page.sent("/v1/analytics/collect");
    assert.equal(request.url, API + "/v1/analytics/collect");
    // No custom header and a string body: a simple request (text/plain), no CORS preflight.
    assert.deepEqual(request.headers, {});
    assert.equal(typeof request.body, "string");
    assert.equal(request.json.envKey, ENV_KEY);
    assert.equal(request.json.visitorId, client.visitorId());
    assert.equal(request.json.sentAt, "2026-11-29T10:00:00.000Z");
    assert.deepEqual(request.json.context, {
      userAgent: USER_AGENT,
      locale: "en-US",
      timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
      screen: { width: 1440, height: 900 },
    });
    const [pageview] = request.json.events;
    assert.equal(pageview.type, "pageview");
    assert.equal(pageview.url, "https://shop.example/pricing?utm_source=newsletter&utm_campaign=nov");
    assert.equal(pageview.referrer, "https://www.google.com/");
    assert.equal(pageview.title, "Pricing");
    assert.match(pageview.messageId, /^[A-Za-z0-9]{22}$/);
    assert.equal(pageview.timestamp, "2026-11-29T10:00:00.000Z");
  });
});

describe("track()", () => {
  test("prefixes names with app. once", async () => {
    const page = fakeBrowser();
    const client = start(page);
    client.track("cta_clicked", { location: "hero" });
    client.track("app.checkout.started");
    await client.flush();
    const tracks = collected(page).filter((item) => item.type == "track");
    assert.deepEqual(
      tracks.map((item) => [item.name, item.properties]),
      [
        ["app.cta_clicked", { location: "hero" }],
        ["app.checkout.started", {}],
      ],
    );
    assert.equal(tracks[0].url, page.location.href);
  });

  test("never throws, even for properties that are not JSON", () => {
    const page = fakeBrowser();
    const client = start(page);
    const circular = {};
    circular.self = circular;
    assert.doesNotThrow(() => client.track("broken", circular));
    assert.equal(queued(page).length, 1); // the pageview only
  });

  test("keeps a copy of the properties as they were when tracked", async () => {
    const page = fakeBrowser();
    const client = start(page);
    const properties = { plan: "pro" };
    client.track("plan_chosen", properties);
    properties.plan = "free";
    await client.flush();
    assert.equal(collected(page).at(-1).properties.plan, "pro");
  });
});

describe("batching", () => {
  test("sends the landing pageview at once", async () => {
    const page = fakeBrowser();
    start(page);
    await settle();
    assert.equal(page.requests.length, 1);
    assert.deepEqual(
      page.requests[0].json.events.map((item) => item.type),
      ["pageview"],
    );
  });

  test("sends at once when 10 items are queued", async () => {
    const page = fakeBrowser();
    const client = start(page);
    await settle(); // the landing pageview went on its own
    for (let n = 1; n <= 9; n++) client.track("item_" + n);
    await settle();
    assert.equal(page.requests.length, 1, "9 items wait");
    client.track("item_10");
    await settle();
    assert.equal(page.requests.length, 2);
    assert.equal(page.requests[1].json.events.length, 10);
  });

  test("sends what is queued after 30 seconds", async () => {
    const page = fakeBrowser();
    const client = start(page);
    await settle(); // the landing pageview went on its own
    client.track("one");
    client.track("two");
    mock.timers.tick(29999);
    await settle();
    assert.equal(page.requests.length, 1);
    mock.timers.tick(1);
    await settle();
    assert.equal(page.requests.length, 2);
    assert.deepEqual(
      page.requests[1].json.events.map((item) => item.name ?? item.type),
      ["app.one", "app.two"],
    );
  });

  test("flush() resolves only once the server has answered", async () => {
    const page = fakeBrowser();
    let release;
    page.respond = () => new Promise((resolve) => (release = () => resolve(answer(202))));
    const client = start(page);
    let done = false;
    const flushed = client.flush().then(() => (done = true));
    await settle();
    assert.equal(page.requests.length, 1);
    assert.equal(done, false);
    release();
    await flushed;
    assert.equal(done, true);
    assert.equal(queued(page).length, 0);
  });
});

describe("retries", () => {
  test("retry network errors with growing backoff and the same messageId", async () => {
    const page = fakeBrowser();
    let calls = 0;
    page.respond = () => {
      if (++calls <= 2) throw new TypeError("Failed to fetch");
      return answer(202);
    };
    const client = start(page);
    const flushed = client.flush();
    await settle();
    assert.equal(page.requests.length, 1);
    mock.timers.tick(999);
    await settle();
    assert.equal(page.requests.length, 1, "the first retry waits 1 s");
    mock.timers.tick(1);
    await settle();
    assert.equal(page.requests.length, 2);
    mock.timers.tick(1999);
    await settle();
    assert.equal(page.requests.length, 2, "the second retry waits 2 s");
    mock.timers.tick(1);
    await flushed;
    assert.equal(page.requests.length, 3);
    const ids = page.requests.map((request) => request.json.events[0].messageId);
    assert.equal(new Set(ids).size, 1);
    assert.equal(queued(page).length, 0);
  });

  test("honour Retry-After on 503 and 429", async () => {
    const page = fakeBrowser();
    const answers = [answer(503, { "Retry-After": "7" }), answer(429, { "Retry-After": "3" }), answer(202)];
    page.respond = () => answers.shift();
    const client = start(page);
    const flushed = client.flush();
    await settle();
    mock.timers.tick(6999);
    await settle();
    assert.equal(page.requests.length, 1, "waits the 7 s the server asked for");
    mock.timers.tick(1);
    await settle();
    assert.equal(page.requests.length, 2);
    mock.timers.tick(2999);
    await settle();
    assert.equal(page.requests.length, 2);
    mock.timers.tick(1);
    await flushed;
    assert.equal(page.requests.length, 3);
  });

  test("a flush gives up after 5 tries and resolves; the items stay stored and go later", async () => {
    const page = fakeBrowser();
    page.respond = () => answer(500);
    const client = start(page);
    const flushed = client.flush();
    for (const wait of [1000, 2000, 4000, 8000]) {
      await settle();
      mock.timers.tick(wait);
    }
    await flushed;
    assert.equal(page.requests.length, 5);
    assert.equal(queued(page).length, 1);
    page.respond = () => answer(202);
    mock.timers.tick(15999);
    await settle();
    assert.equal(page.requests.length, 5);
    mock.timers.tick(1); // the next try, scheduled with the backoff so far
    await settle();
    assert.equal(page.requests.length, 6);
    assert.equal(queued(page).length, 0);
  });

  test("drop a batch the server refuses for good (4xx)", async () => {
    const page = fakeBrowser();
    page.respond = () => answer(400, {}, { error: { code: "invalid_request", message: "Bad." } });
    const client = start(page);
    await client.flush();
    assert.equal(page.requests.length, 1);
    assert.equal(queued(page).length, 0);
  });
});

describe("page hide", () => {
  test("beacons the queue as text/plain bodies of at most 64 KiB, each item once", () => {
    const page = fakeBrowser();
    page.respond = () => new Promise(() => {}); // the server never answers: nothing leaves by fetch
    const client = start(page);
    // Multibyte text: the limit is in bytes, not characters.
    for (let n = 0; n < 60; n++) client.track("big", { text: "é€".repeat(1500), n });
    page.hide();
    assert.ok(page.beacons.length >= 6, `${page.beacons.length} beacons`);
    for (const beacon of page.beacons) {
      assert.equal(beacon.url, API + "/v1/analytics/collect");
      assert.equal(typeof beacon.data, "string"); // sendBeacon sends a string as text/plain
      assert.ok(new TextEncoder().encode(beacon.data).length <= BEACON_MAX_BYTES);
      assert.equal(beacon.json.envKey, ENV_KEY);
      assert.ok(beacon.json.events.length <= 100);
    }
    const ids = page.beacons.flatMap((beacon) => beacon.json.events.map((item) => item.messageId));
    assert.equal(ids.length, 61);
    assert.equal(new Set(ids).size, 61);
    assert.equal(queued(page).length, 0);
  });

  test("keeps items a beacon refused", () => {
    const page = fakeBrowser();
    page.beaconAccepted = false;
    start(page);
    page.hide();
    assert.equal(queued(page).length, 1);
  });

  test("keeps beaconed items stored while the server is failing", async () => {
    const page = fakeBrowser();
    page.respond = () => answer(503, { "Retry-After": "30" });
    const client = start(page);
    client.flush();
    await settle();
    page.hide();
    assert.equal(page.beacons.length, 1);
    assert.equal(queued(page).length, 1, "kept for the next load; the server drops the repeat");
  });
});

describe("localStorage", () => {
  test("keeps unsent items across page loads and sends them on the next load", async () => {
    const storage = new Map();
    const cookies = new Map();
    const first = fakeBrowser({ storage, cookies });
    first.respond = () => {
      throw new TypeError("Failed to fetch");
    };
    const client = start(first);
    client.track("before_close");
    await settle();
    const stored = queued(first).map((entry) => entry.i.messageId);
    assert.equal(stored.length, 2);

    const second = fakeBrowser({ storage, cookies, href: "https://shop.example/thanks" });
    start(second);
    await settle();
    const [request] = second.sent("/v1/analytics/collect");
    assert.deepEqual(request.json.events.map((item) => item.messageId).slice(0, 2), stored);
    assert.equal(request.json.visitorId, client.visitorId());
  });
});

describe("route changes", () => {
  test("pushState, replaceState and popstate send a pageview when the URL changed, and only then", async () => {
    const page = fakeBrowser();
    const client = start(page);
    page.window.history.pushState({}, "", "/features");
    mock.timers.tick(0);
    page.window.history.replaceState({ scroll: 1 }, "", "/features"); // same URL: no pageview
    mock.timers.tick(0);
    page.window.history.pushState({}, "", "/features#faq"); // only the fragment: no pageview
    mock.timers.tick(0);
    page.document.title = "Docs";
    page.window.history.replaceState({}, "", "/docs?page=2");
    mock.timers.tick(0);
    page.popstate("/features");
    mock.timers.tick(0);
    await client.flush();
    const pageviews = collected(page).filter((item) => item.type == "pageview");
    assert.deepEqual(
      pageviews.map((item) => [item.url, item.referrer]),
      [
        ["https://shop.example/pricing?utm_source=newsletter&utm_campaign=nov", "https://www.google.com/"],
        ["https://shop.example/features", "https://shop.example/pricing?utm_source=newsletter&utm_campaign=nov"],
        ["https://shop.example/docs?page=2", "https://shop.example/features"],
        ["https://shop.example/features", "https://shop.example/docs?page=2"],
      ],
    );
    assert.equal(pageviews[2].title, "Docs");
  });
});

describe("mode routing", () => {
  test("with a user token, track() goes to /v1/events with the token and env key; pageviews stay on collect", async () => {
    const page = fakeBrowser();
    const client = start(page);
    client.setUserToken("tok_abc");
    client.track("report_exported", { format: "csv" });
    await client.flush();
    const [events] = page.sent("/v1/events");
    assert.equal(events.headers.Authorization, "Bearer tok_abc");
    assert.equal(events.headers["X-AscendKit-Env-Key"], ENV_KEY);
    assert.equal(events.headers["Content-Type"], "application/json");
    const [item] = events.json.events;
    assert.equal(item.name, "app.report_exported");
    assert.equal(item.visitorId, client.visitorId());
    assert.equal(item.type, undefined);
    assert.deepEqual(
      collected(page).map((entry) => entry.type),
      ["pageview"],
    );
  });

  test("signup sends the visitor ID, keeps the token and resolves to the API's answer", async () => {
    const page = fakeBrowser();
    const signedUp = { user: { id: "usr_1", email: "ada@example.com" }, token: "tok_new" };
    page.respond = (request) => (request.url.endsWith("/v1/auth/signup") ? answer(201, {}, signedUp) : answer(202));
    const client = start(page);
    const result = await client.signup({ email: "ada@example.com", password: "correct horse" });
    assert.deepEqual(result, signedUp);
    const [signup] = page.sent("/v1/auth/signup");
    assert.equal(signup.headers["X-AscendKit-Env-Key"], ENV_KEY);
    assert.deepEqual(signup.json, { email: "ada@example.com", password: "correct horse", visitorId: client.visitorId() });
    // The pre-signup pageview went first.
    assert.ok(page.requests.indexOf(page.sent("/v1/analytics/collect")[0]) < page.requests.indexOf(signup));
    client.track("after_signup");
    await client.flush();
    assert.equal(page.sent("/v1/events")[0].headers.Authorization, "Bearer tok_new");
  });

  test("an error answer of login resolves as it is, and no token is kept", async () => {
    const page = fakeBrowser();
    const refused = { error: { code: "invalid_credentials", message: "Wrong." } };
    page.respond = (request) => (request.url.endsWith("/v1/auth/login") ? answer(401, {}, refused) : answer(202));
    const client = start(page);
    assert.deepEqual(await client.login({ email: "a@example.com", password: "nope" }), refused);
    client.track("still_anonymous");
    await client.flush();
    assert.equal(page.sent("/v1/events").length, 0);
  });

  test("a token the server no longer accepts is dropped and the events go through collect", async () => {
    const page = fakeBrowser();
    page.respond = (request) => (request.url.endsWith("/v1/events") ? answer(401) : answer(202));
    const client = start(page);
    client.setUserToken("tok_expired");
    client.track("late");
    await client.flush();
    assert.equal(page.sent("/v1/events").length, 1);
    assert.ok(collected(page).some((item) => item.name == "app.late"));
    assert.equal(page.storage.get("ak_tok_" + ENV_KEY), undefined);
  });

  test("logout sends queued events with the token, revokes it and starts a new visitor", async () => {
    const page = fakeBrowser();
    page.respond = (request) => (request.url.endsWith("/v1/auth/logout") ? answer(204) : answer(202));
    const client = start(page);
    const before = client.visitorId();
    client.setUserToken("tok_live");
    client.track("last_as_user");
    assert.equal(await client.logout(), null);
    const [events] = page.sent("/v1/events");
    assert.equal(events.json.events[0].name, "app.last_as_user");
    const [logout] = page.sent("/v1/auth/logout");
    assert.equal(logout.headers.Authorization, "Bearer tok_live");
    assert.ok(page.requests.indexOf(events) < page.requests.indexOf(logout));
    const after = client.visitorId();
    assert.notEqual(after, before);
    assert.equal(page.cookies.get("ak_vid"), after);
    client.track("anonymous_again");
    await client.flush();
    const last = page.sent("/v1/analytics/collect").at(-1);
    assert.equal(last.json.visitorId, after);
    assert.equal(last.json.events[0].name, "app.anonymous_again");
  });
});

describe("optOut()", () => {
  test("stops all sending, drops the queue and the cookie, and lasts across loads", async () => {
    const storage = new Map();
    const page = fakeBrowser({ storage });
    const client = start(page);
    await settle(); // the landing pageview went before the visitor opted out
    const sentBefore = page.requests.length;
    client.track("queued");
    client.optOut();
    client.track("ignored");
    page.window.history.pushState({}, "", "/elsewhere");
    mock.timers.tick(31000);
    await client.flush();
    page.hide();
    assert.equal(page.requests.length + page.beacons.length, sentBefore);
    assert.equal(page.cookies.has("ak_vid"), false);
    assert.equal(client.visitorId(), null);
    assert.equal(queued(page).length, 0);

    const next = fakeBrowser({ storage });
    const again = start(next);
    mock.timers.tick(31000);
    await again.flush();
    next.hide();
    assert.equal(next.requests.length + next.beacons.length, 0);
    assert.equal(next.cookies.has("ak_vid"), false);
  });
});

describe("the queue", () => {
  test("holds at most 1000 items, dropping the oldest", async () => {
    const page = fakeBrowser();
    page.respond = () => new Promise(() => {});
    const client = start(page);
    for (let n = 0; n < 1100; n++) client.track("n" + n);
    const stored = queued(page);
    assert.equal(stored.length, 1000);
    assert.equal(stored[0].i.name, "app.n100");
  });
});
