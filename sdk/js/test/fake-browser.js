// A page for the browser client's unit tests: location, history, cookies, storage,
// fetch and sendBeacon, recorded so that tests can read what the client sent.
// Timers come from node:test's mock.timers.

export const USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/** A fetch answer: `status`, optional `headers`, optional JSON `body`. */
export function answer(status, headers = {}, body = status == 202 ? { accepted: 1 } : {}) {
  const lower = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: { get: (name) => lower[name.toLowerCase()] ?? null },
    json: async () => body,
  };
}

export function fakeBrowser({
  href = "https://shop.example/pricing?utm_source=newsletter&utm_campaign=nov",
  referrer = "https://www.google.com/",
  title = "Pricing",
  storage = new Map(),
  cookies = new Map(),
} = {}) {
  const windowListeners = {};
  const documentListeners = {};
  const on = (registry) => (type, listener) => (registry[type] ||= []).push(listener);
  const fire = (registry, type) => (registry[type] || []).forEach((listener) => listener({ type }));

  const cookieWrites = [];
  const location = {
    href,
    get protocol() {
      return new URL(this.href).protocol;
    },
  };
  const document = {
    title,
    referrer,
    visibilityState: "visible",
    addEventListener: on(documentListeners),
    get cookie() {
      return [...cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    },
    set cookie(line) {
      cookieWrites.push(line);
      const [pair, ...attributes] = line.split("; ");
      const [name, value] = pair.split("=");
      if (attributes.includes("Max-Age=0")) cookies.delete(name);
      else cookies.set(name, value);
    },
  };
  const navigate = (url) => (location.href = new URL(url, location.href).href);
  const history = {
    pushState: (state, unused, url) => navigate(url),
    replaceState: (state, unused, url) => navigate(url),
  };

  const requests = [];
  const beacons = [];
  const page = {
    requests,
    beacons,
    cookieWrites,
    storage,
    cookies,
    // What fetch answers; a test replaces it. It may throw (a network error) or hang.
    respond: () => answer(202),
    beaconAccepted: true,
    window: null,
    /** The requests to one path, with their JSON bodies. */
    sent(path) {
      return requests.filter((request) => new URL(request.url).pathname == path);
    },
    hide() {
      document.visibilityState = "hidden";
      fire(documentListeners, "visibilitychange");
      fire(windowListeners, "pagehide");
    },
    popstate(url) {
      navigate(url);
      fire(windowListeners, "popstate");
    },
    navigate,
    document,
    location,
  };
  page.window = {
    document,
    location,
    history,
    screen: { width: 1440, height: 900 },
    navigator: {
      userAgent: USER_AGENT,
      language: "en-US",
      sendBeacon(url, data) {
        if (!page.beaconAccepted) return false;
        beacons.push({ url, data, json: JSON.parse(data) });
        return true;
      },
    },
    localStorage: {
      getItem: (key) => (storage.has(key) ? storage.get(key) : null),
      setItem: (key, value) => storage.set(key, String(value)),
      removeItem: (key) => storage.delete(key),
    },
    addEventListener: on(windowListeners),
    async fetch(url, init) {
      const request = { url, ...init, json: init.body ? JSON.parse(init.body) : null };
      requests.push(request);
      return page.respond(request);
    },
  };
  return page;
}

/** Lets pending promise callbacks run (setImmediate is not mocked). */
export async function settle(rounds = 10) {
  for (let round = 0; round < rounds; round++) await new Promise((resolve) => setImmediate(resolve));
}

/** Every item of every request and beacon to collect, in order. */
export const collected = (page) => [
  ...page.sent("/v1/analytics/collect").flatMap((request) => request.json.events),
  ...page.beacons.flatMap((beacon) => beacon.json.events),
];
