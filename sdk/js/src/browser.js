// The browser client as module functions over one instance: `init` makes it, the rest
// call it. Calls to `track` before `init` are kept and replayed (a React child's effect
// runs before its provider's), so no event of the first render is lost.

import { createClient } from "./client.js";

const EARLY_MAX = 100;
let client = null;
const early = [];

export function init(options) {
  if (!client) {
    client = createClient(options);
    for (const [name, properties] of early.splice(0)) client.track(name, properties);
  }
  return client;
}

function initialised() {
  if (!client) throw new Error("AscendKit: call init({ envKey }) first.");
  return client;
}

export function track(name, properties) {
  if (client) client.track(name, properties);
  else if (early.length < EARLY_MAX) early.push([name, properties]);
}

export const flush = () => (client ? client.flush() : Promise.resolve());
export const signup = async (fields) => initialised().signup(fields);
export const login = async (fields) => initialised().login(fields);
export const logout = async () => initialised().logout();
export const setUserToken = (token) => initialised().setUserToken(token);
export const visitorId = () => (client ? client.visitorId() : null);
export const optOut = () => initialised().optOut();
