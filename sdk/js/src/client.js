// The browser client (SPEC 6): pageviews, events, batching, beacons, retries, auth helpers.
// `createClient` touches the page only when called, never at import, so the module is
// safe to import during server rendering; tests pass a fake window as `w`.

import {
  BATCH_SIZE,
  DEFAULT_API_URL,
  FLUSH_INTERVAL_MS,
  MAX_BATCH_ITEMS,
  MAX_QUEUE,
  MAX_TRIES,
  prefixed,
  randomId,
  retryable,
  retryDelay,
  sleep,
} from "./core.js";

// The browsers' keepalive budget: no beacon may carry more.
export const BEACON_MAX_BYTES = 65536;
const VISITOR_ID = /^vis_[A-Za-z0-9]{16,64}$/;
const YEAR_SECONDS = 31536000;
// How long signup and login wait for queued pageviews to go first.
const AUTH_FLUSH_WAIT_MS = 2000;
// Queued items are routed when they are made: collect, or /v1/events with the user's token.
const COLLECT = "c";
const EVENTS = "e";

export function createClient({ envKey, apiUrl }, w = globalThis) {
  const api = (apiUrl || DEFAULT_API_URL).replace(/\/+$/, "");
  const d = w.document;
  const loc = w.location;
  const encoder = new TextEncoder();
  const queueKey = "ak_q_" + envKey;
  const tokenKey = "ak_tok_" + envKey;
  // Storage can be disabled or full: the client then keeps its queue in memory only.
  const storage = (method, key, value) => {
    try {
      return w.localStorage[method](key, value);
    } catch {}
  };
  let optedOut = storage("getItem", "ak_out") == "1";
  let token = storage("getItem", tokenKey);
  let queue = optedOut ? [] : load();
  let failures = 0;
  const beaconed = new WeakSet();
  let visitor, timer, draining, lastPage, lastUrl;

  function load() {
    try {
      const stored = JSON.parse(storage("getItem", queueKey));
      return Array.isArray(stored) ? stored : [];
    } catch {
      return [];
    }
  }

  function persist() {
    if (queue.length) storage("setItem", queueKey, JSON.stringify(queue));
    else storage("removeItem", queueKey);
  }

  function setVisitor(id) {
    visitor = id;
    d.cookie =
      "ak_vid=" + id + "; Max-Age=" + (id ? YEAR_SECONDS : 0) + "; Path=/; SameSite=Lax" +
      (loc.protocol == "https:" ? "; Secure" : "");
  }

  function setUserToken(value) {
    token = value || null;
    if (token) storage("setItem", tokenKey, token);
    else storage("removeItem", tokenKey);
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(flush, ms);
  }

  function enqueue(route, item) {
    if (optedOut) return;
    item.messageId = randomId();
    item.timestamp = new Date().toISOString();
    queue.push({ r: route, v: visitor, i: item });
    queue.splice(0, queue.length - MAX_QUEUE);
    persist();
    if (queue.length >= BATCH_SIZE) flush();
    else if (!timer && !draining) schedule(FLUSH_INTERVAL_MS);
  }

  function remove(entries) {
    queue = queue.filter((entry) => !entries.includes(entry));
    persist();
  }

  // The item as its endpoint takes it: /v1/events names the visitor per item.
  function wire({ r, v, i }) {
    if (r == COLLECT) return i;
    const { type, ...item } = i;
    return { ...item, visitorId: v };
  }

  function body({ r, v, entries }) {
    const events = entries.map(wire);
    const sentAt = new Date().toISOString();
    if (r == EVENTS) return JSON.stringify({ sentAt, events });
    const nav = w.navigator;
    const context = {
      userAgent: nav.userAgent,
      locale: nav.language,
      timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
      screen: { width: w.screen.width, height: w.screen.height },
    };
    return JSON.stringify({ envKey, visitorId: v, sentAt, context, events });
  }

  const bytes = (text) => encoder.encode(text).length;

  // The queue cut into requests: one route and visitor each, at most 100 items and
  // 64 KiB (an item larger than that alone goes by fetch, never by beacon).
  function batches(entries = queue) {
    // Without a token, /v1/events cannot take them: the visitor's collect can.
    if (!token) for (const entry of entries) entry.r = COLLECT;
    const open = {};
    const all = [];
    for (const entry of entries) {
      const key = entry.r + entry.v;
      const size = bytes(JSON.stringify(wire(entry))) + 1;
      let batch = open[key];
      if (!batch || batch.entries.length >= MAX_BATCH_ITEMS || batch.size + size > BEACON_MAX_BYTES) {
        batch = open[key] = { r: entry.r, v: entry.v, entries: [] };
        batch.size = bytes(body(batch)) - 1;
        all.push(batch);
      }
      batch.entries.push(entry);
      batch.size += size;
    }
    return all;
  }

  function request(batch, keepalive) {
    const events = batch.r == EVENTS;
    // Collect gets text/plain with the key in the body: a simple request, no preflight.
    const headers = events
      ? { "Content-Type": "application/json", Authorization: "Bearer " + token, "X-AscendKit-Env-Key": envKey }
      : {};
    const path = events ? "/v1/events" : "/v1/analytics/collect";
    return w.fetch(api + path, { method: "POST", headers, body: body(batch), keepalive, credentials: "omit" });
  }

  // Sends one batch; answers how long to wait before trying it again, or 0 when settled.
  async function send(batch) {
    const sentWith = token;
    let response;
    try {
      response = await request(batch);
    } catch {
      return retryDelay(failures++);
    }
    if (retryable(response.status)) return retryDelay(failures++, response.headers.get("Retry-After"));
    failures = 0;
    if (response.status == 401 && batch.r == EVENTS) {
      // The token expired or was revoked: the items go again through the visitor's collect.
      if (token == sentWith) setUserToken(null);
      return 0;
    }
    // Delivered, or refused for good (a retry would be refused the same way).
    remove(batch.entries);
    return 0;
  }

  async function drain() {
    clearTimeout(timer);
    timer = 0;
    for (let tries = 0; queue.length && !optedOut; ) {
      const wait = await send(batches()[0]);
      if (!wait) tries = 0;
      else if (++tries < MAX_TRIES) await sleep(wait);
      else return schedule(wait);
    }
  }

  function flush() {
    return (draining ||= drain().finally(() => (draining = null)));
  }

  // Page hide: beacons for collect, keepalive fetches for /v1/events (they need headers).
  // While the server is failing, beaconed items stay stored and go again on the next
  // load: the server drops a repeated messageId, so nothing is lost and nothing doubled.
  function hide() {
    // visibilitychange and pagehide both come on a close: an item is beaconed once a page.
    for (const batch of batches(queue.filter((entry) => !beaconed.has(entry)))) {
      batch.entries.forEach((entry) => beaconed.add(entry));
      let sent;
      try {
        if (batch.r == COLLECT) sent = w.navigator.sendBeacon(api + "/v1/analytics/collect", body(batch));
        else sent = request(batch, true).catch(() => {});
      } catch {}
      if (sent && !failures) remove(batch.entries);
    }
  }

  function page() {
    const href = loc.href;
    const key = href.split("#")[0];
    if (key == lastPage) return;
    lastPage = key;
    enqueue(COLLECT, { type: "pageview", url: href, referrer: lastUrl ?? d.referrer, title: d.title });
    lastUrl = href;
  }

  function track(name, properties) {
    try {
      // A copy, as JSON: later changes by the caller do not reach the queued item.
      properties = JSON.parse(JSON.stringify(properties || {}));
      enqueue(token ? EVENTS : COLLECT, { type: "track", name: prefixed(name), properties, url: loc.href });
    } catch {}
  }

  async function auth(path, fields) {
    // Pre-signup pageviews go first when they can; the server links them either way.
    await Promise.race([flush(), sleep(AUTH_FLUSH_WAIT_MS)]);
    const response = await w.fetch(api + "/v1/auth/" + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-AscendKit-Env-Key": envKey },
      body: JSON.stringify({ ...fields, visitorId: visitor || undefined }),
      credentials: "omit",
    });
    const answer = await response.json();
    if (answer.token) setUserToken(answer.token);
    return answer;
  }

  async function logout() {
    // Events tracked as the user go out while the token still works.
    await flush();
    const held = token;
    setUserToken(null);
    setVisitor(optedOut ? "" : "vis_" + randomId());
    if (!held) return null;
    const response = await w.fetch(api + "/v1/auth/logout", {
      method: "POST",
      headers: { Authorization: "Bearer " + held, "X-AscendKit-Env-Key": envKey },
      credentials: "omit",
    });
    return response.status == 204 ? null : response.json();
  }

  function optOut() {
    optedOut = true;
    storage("setItem", "ak_out", "1");
    queue = [];
    persist();
    clearTimeout(timer);
    setVisitor("");
  }

  const found = /(?:^|;\s*)ak_vid=([^;]*)/.exec(d.cookie);
  setVisitor(optedOut ? "" : found && VISITOR_ID.test(found[1]) ? found[1] : "vis_" + randomId());

  for (const method of ["pushState", "replaceState"]) {
    const original = w.history[method];
    w.history[method] = function (...args) {
      const result = original.apply(this, args);
      // Next tick: routers set the new title right after changing the URL.
      setTimeout(page, 0);
      return result;
    };
  }
  w.addEventListener("popstate", () => setTimeout(page, 0));
  d.addEventListener("visibilitychange", () => d.visibilityState == "hidden" && hide());
  w.addEventListener("pagehide", hide);

  // The landing pageview goes at once, with anything a closed tab left behind: a
  // visit shows up live, and a bounce is counted even if the tab stays open.
  page();
  flush();

  return {
    track,
    flush: () => flush().then(() => {}),
    signup: (fields) => auth("signup", fields),
    login: (fields) => auth("login", fields),
    logout,
    setUserToken,
    visitorId: () => visitor || null,
    optOut,
  };
}
