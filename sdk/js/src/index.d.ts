import type { ReactNode } from "react";

export type Properties = Record<string, unknown>;

export interface InitOptions {
  /** The environment's public env key, `env_…`. */
  envKey: string;
  /** The AscendKit API's base URL; default `http://127.0.0.1:8000`. */
  apiUrl?: string;
}

export interface User {
  id: string;
  email: string;
  name: string;
  status: "active" | "waitlisted";
  createdAt: string;
}

export interface ApiError {
  error: { code: string; message: string };
}

/** The API's answer: `{ user, token }` (no token while waitlisted), or its error. */
export type AuthAnswer = { user: User; token: string | null } | ApiError;

export interface SignupFields {
  email: string;
  password: string;
  name?: string;
}

export interface LoginFields {
  email: string;
  password: string;
}

export interface AscendKitClient {
  /** Queues `app.` + name; never throws. With a user token it goes to /v1/events. */
  track(name: string, properties?: Properties): void;
  /** Resolves once the queued items are delivered (or retrying has given up for now). */
  flush(): Promise<void>;
  signup(fields: SignupFields): Promise<AuthAnswer>;
  login(fields: LoginFields): Promise<AuthAnswer>;
  /** Revokes the token and starts a new visitor; resolves to null, or the API's error. */
  logout(): Promise<ApiError | null>;
  setUserToken(token: string | null): void;
  /** The `vis_` ID, or null after optOut(). */
  visitorId(): string | null;
  /** Stops all sending, on this page and later loads. */
  optOut(): void;
}

/** Starts the client once (later calls return the same one): cookie, first pageview, route changes. */
export function init(options: InitOptions): AscendKitClient;
export function track(name: string, properties?: Properties): void;
export function flush(): Promise<void>;
export function signup(fields: SignupFields): Promise<AuthAnswer>;
export function login(fields: LoginFields): Promise<AuthAnswer>;
export function logout(): Promise<ApiError | null>;
export function setUserToken(token: string | null): void;
export function visitorId(): string | null;
export function optOut(): void;

export interface AscendKitProviderProps extends InitOptions {
  children?: ReactNode;
}

/** Starts the browser client after mount; safe in server rendering. */
export function AscendKitProvider(props: AscendKitProviderProps): ReactNode;

/** `{ track, flush }`, the same call before and after signup. */
export function useAnalytics(): { track: typeof track; flush: typeof flush };

declare global {
  interface Window {
    /** Set by the script tag build. */
    AscendKit?: AscendKitClient;
  }
}
