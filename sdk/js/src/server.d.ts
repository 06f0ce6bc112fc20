export type Properties = Record<string, unknown>;

export interface AnalyticsOptions {
  /** Default: `ASCENDKIT_SECRET_KEY`. Required. */
  secretKey?: string;
  /** Default: `ASCENDKIT_ENV_KEY`. Required. */
  envKey?: string;
  /** Default: `ASCENDKIT_API_URL`, else `http://127.0.0.1:8000`. */
  apiUrl?: string;
  /** How long one flush keeps retrying before it resolves with the items still queued; default 30000. */
  flushTimeoutMs?: number;
  /** Per request; default 10000. */
  requestTimeoutMs?: number;
  /** Delivery problems (the default writes a warning); track() never throws. */
  onError?: (error: Error) => void;
}

export interface TrackOptions {
  /** A `vis_` ID: links that browser visitor to the user. */
  visitorId?: string;
  /** When it happened; default now. */
  timestamp?: Date | string | number;
}

export class Analytics {
  /** Throws when the secret key or the env key is missing. */
  constructor(options?: AnalyticsOptions);
  /** Queues `app.` + name for the user; sends at 10 queued events or every 30 s. Never throws. */
  track(userId: string, name: string, properties?: Properties, options?: TrackOptions): void;
  /** Resolves once the queue is delivered, or once retrying ran out of `flushTimeoutMs`. */
  flush(): Promise<void>;
  /** Stops the timer and flushes; track() is ignored afterwards. */
  shutdown(): Promise<void>;
}
