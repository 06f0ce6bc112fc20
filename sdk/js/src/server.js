// @ascendkit/nextjs/server: business events from Node to POST /v1/events (SPEC 6).

import {
  BATCH_SIZE,
  DEFAULT_API_URL,
  FLUSH_INTERVAL_MS,
  MAX_BATCH_ITEMS,
  MAX_QUEUE,
  prefixed,
  randomId,
  retryable,
  retryDelay,
  sleep,
} from "./core.js";

const REQUEST_TIMEOUT_MS = 10000;
// A flush gives up retrying after this long; its items stay queued for the next one.
const FLUSH_TIMEOUT_MS = 30000;

const warn = (error) => console.warn("[ascendkit] " + error.message);

export class Analytics {
  #queue = [];
  #draining = null;
  #closed = false;
  #timer;

  /**
   * @param {{secretKey?: string, envKey?: string, apiUrl?: string, flushTimeoutMs?: number,
   *   requestTimeoutMs?: number, onError?: (error: Error) => void}} [options]
   */
  constructor(options = {}) {
    const env = globalThis.process?.env ?? {};
    this.secretKey = options.secretKey ?? env.ASCENDKIT_SECRET_KEY;
    this.envKey = options.envKey ?? env.ASCENDKIT_ENV_KEY;
    if (!this.secretKey) throw new Error("AscendKit: set ASCENDKIT_SECRET_KEY (or pass secretKey).");
    if (!this.envKey) throw new Error("AscendKit: set ASCENDKIT_ENV_KEY (or pass envKey).");
    this.apiUrl = (options.apiUrl ?? env.ASCENDKIT_API_URL ?? DEFAULT_API_URL).replace(/\/+$/, "");
    this.flushTimeoutMs = options.flushTimeoutMs ?? FLUSH_TIMEOUT_MS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    this.onError = options.onError ?? warn;
    this.#timer = setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
    // The periodic flush must not keep the process alive; shutdown() delivers the rest.
    this.#timer.unref?.();
  }

  /** Queues one event of `userId`; never throws. */
  track(userId, name, properties, { visitorId, timestamp } = {}) {
    try {
      if (this.#closed) return;
      const item = {
        userId: String(userId),
        name: prefixed(name),
        properties: JSON.parse(JSON.stringify(properties ?? {})),
        timestamp: new Date(timestamp ?? Date.now()).toISOString(),
        messageId: randomId(),
      };
      if (visitorId) item.visitorId = String(visitorId);
      this.#queue.push(item);
      const overflow = this.#queue.length - MAX_QUEUE;
      if (overflow > 0) {
        this.#queue.splice(0, overflow);
        this.onError(new Error(`the queue is full: dropped the ${overflow} oldest events`));
      }
      if (this.#queue.length >= BATCH_SIZE) this.flush();
    } catch (error) {
      this.onError(error);
    }
  }

  /** Resolves once the queued events are delivered, or once retrying has run out of time. */
  flush() {
    return (this.#draining ??= this.#drain().finally(() => (this.#draining = null)));
  }

  /** Stops the timer and delivers what is queued; later track() calls are ignored. */
  async shutdown() {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.flush();
  }

  async #drain() {
    const deadline = Date.now() + this.flushTimeoutMs;
    let failures = 0;
    while (this.#queue.length) {
      const batch = this.#queue.slice(0, MAX_BATCH_ITEMS);
      const outcome = await this.#send(batch);
      if (outcome.done) {
        failures = 0;
        this.#queue = this.#queue.filter((item) => !batch.includes(item));
        continue;
      }
      const wait = retryDelay(failures++, outcome.retryAfter);
      if (Date.now() + wait > deadline) {
        this.onError(new Error(`delivery failed (${outcome.reason}); ${this.#queue.length} events stay queued`));
        return;
      }
      await sleep(wait);
    }
  }

  async #send(events) {
    let response;
    try {
      response = await fetch(this.apiUrl + "/v1/events", {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Authorization: "Bearer " + this.secretKey,
          "X-AscendKit-Env-Key": this.envKey,
        },
        body: JSON.stringify({ sentAt: new Date().toISOString(), events }),
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
    } catch (error) {
      return { done: false, reason: error.message };
    }
    const answer = await response.json().catch(() => null);
    if (retryable(response.status)) {
      return { done: false, reason: `status ${response.status}`, retryAfter: response.headers.get("Retry-After") };
    }
    if (!response.ok) {
      // Refused for good (a bad key, a malformed batch): a retry would be refused the same way.
      this.onError(new Error(`the server refused ${events.length} events: ${answer?.error?.message ?? response.status}`));
    } else if (answer?.rejected?.length) {
      const reasons = answer.rejected.map((item) => item.reason).join(", ");
      this.onError(new Error(`the server rejected ${answer.rejected.length} events: ${reasons}`));
    }
    return { done: true };
  }
}
