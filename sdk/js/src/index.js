"use client";
// @ascendkit/nextjs: the browser client as an ES module, and the React provider and hook.

export { flush, init, login, logout, optOut, setUserToken, signup, track, visitorId } from "./browser.js";
export { AscendKitProvider, useAnalytics } from "./react.js";
