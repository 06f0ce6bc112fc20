// What the browser and Node clients share: the numbers of SPEC 6, names, IDs, backoff.

export const DEFAULT_API_URL = "http://127.0.0.1:8000";
export const BATCH_SIZE = 10;
export const FLUSH_INTERVAL_MS = 30000;
// A bounded queue: past this, the oldest items are dropped rather than memory grown.
export const MAX_QUEUE = 1000;
// The server's limit per request.
export const MAX_BATCH_ITEMS = 100;
// Tries within one flush; later ones wait for the next flush.
export const MAX_TRIES = 5;
const MAX_BACKOFF_MS = 60000;
// A Retry-After is honoured up to an hour: a longer one is taken as a misconfiguration.
const MAX_RETRY_AFTER_MS = 3600000;

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `app.` + name, once: a name that already starts with `app.` is kept. */
export const prefixed = (name) => ((name = String(name)).startsWith("app.") ? name : "app." + name);

/** Random base62, for visitor and message IDs (no time part: nothing to fingerprint). */
export function randomId(length = 22) {
  let id = "";
  for (const byte of crypto.getRandomValues(new Uint8Array(length))) id += BASE62[byte % 62];
  return id;
}

/** 429 and 5xx are worth another try; any other answer is final. */
export const retryable = (status) => status == 429 || status >= 500;

/**
 * How long to wait before try `failures` + 1: the server's Retry-After (seconds or an
 * HTTP date) when it sent one, else 1 s doubling up to a minute.
 */
export function retryDelay(failures, retryAfter) {
  if (retryAfter) {
    const ms = isNaN(retryAfter) ? Date.parse(retryAfter) - Date.now() : retryAfter * 1000;
    if (ms >= 0) return Math.min(ms, MAX_RETRY_AFTER_MS);
  }
  return Math.min(1000 * 2 ** failures, MAX_BACKOFF_MS);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
