// One run against the live Django server: pytest (sdk/tests/test_node_sdk_live.py) starts
// it, makes a user and sets the variables; run alone, this file skips.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Analytics } from "../src/server.js";

const live = process.env.ASCENDKIT_LIVE_USER_ID;

test("the Node client delivers events to the live server", { skip: !live && "run by pytest against a live server" }, async () => {
  const errors = [];
  const analytics = new Analytics({ onError: (error) => errors.push(error.message) });
  for (let n = 0; n < 12; n++) {
    analytics.track(live, "live.order_placed", { n }, { visitorId: process.env.ASCENDKIT_LIVE_VISITOR_ID });
  }
  analytics.track(live, "app.live.done");
  await analytics.shutdown();
  assert.deepEqual(errors, []);
});
