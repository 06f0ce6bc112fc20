"use client";
// <AscendKitProvider envKey=…> starts the browser client after mount, in an effect:
// nothing here touches `window` during server rendering.

import { createContext, createElement, useContext, useEffect } from "react";
import { flush, init, track } from "./browser.js";

const analytics = Object.freeze({ track, flush });
const AnalyticsContext = createContext(analytics);

export function AscendKitProvider({ envKey, apiUrl, children }) {
  useEffect(() => {
    init({ envKey, apiUrl });
  }, [envKey, apiUrl]);
  return createElement(AnalyticsContext.Provider, { value: analytics }, children);
}

/** `{ track, flush }`, the same before and after signup: the client routes by its token. */
export function useAnalytics() {
  return useContext(AnalyticsContext);
}
