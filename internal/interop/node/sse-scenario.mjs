// The SSE scenario shared by Node (npm eventsource) and Chromium (the
// browser's EventSource; the function body is sent to the page as text, so
// it uses no imports and no outer variables).
export async function scenario(base, newEventSource, fetchFn) {
  const topic = "interop/sse";
  const got = [];
  const cursors = [];
  let opens = 0, errors = 0, resets = 0;
  const waiters = [];
  const wake = () => {
    for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]()) waiters.splice(i, 1);
  };
  const waitFor = (pred, what) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${JSON.stringify({ got: got.length, opens, errors })}`)), 15000);
    const check = () => { if (pred()) { clearTimeout(timer); resolve(); return true; } return false; };
    if (!check()) waiters.push(check);
  });
  const publish = async (i) => {
    const headers = { "Content-Type": "text/plain" };
    if (i % 3 === 1) headers["Sb-Header-Event"] = "update";
    const r = await fetchFn(`${base}/topics/${topic}`, { method: "POST", headers, body: `m${i}\nsecond line` });
    if (!r.ok) throw new Error(`publish ${i}: HTTP ${r.status}`);
    cursors.push((await r.json()).cursor);
  };

  const es = newEventSource(`${base}/events?topic=${encodeURIComponent(topic)}`);
  es.onopen = () => { opens++; wake(); };
  es.onerror = () => { errors++; wake(); };
  es.onmessage = (e) => { got.push({ type: e.type, id: e.lastEventId, data: e.data }); wake(); };
  es.addEventListener("update", (e) => { got.push({ type: e.type, id: e.lastEventId, data: e.data }); wake(); });
  es.addEventListener("sb-reset", () => { resets++; });
  try {
    await waitFor(() => opens === 1, "the stream to open");
    for (let i = 0; i < 5; i++) await publish(i);
    await waitFor(() => got.length >= 5, "the first 5 events");
    const r = await fetchFn(`${base}/ctl/drop`, { method: "POST" });
    if ((await r.text()) !== "1") throw new Error("drop: no stream to end");
    await waitFor(() => errors >= 1, "the error event after the drop");
    for (let i = 5; i < 10; i++) await publish(i); // while disconnected (retry: 300 ms)
    await waitFor(() => opens === 2, "the reconnect");
    for (let i = 10; i < 15; i++) await publish(i);
    await waitFor(() => got.length >= 15, "all 15 events");
  } finally {
    es.close();
  }
  // A resume from a cursor the broker never issued: the stream answers 200
  // and starts with sb-reset, naming the head it continues from.
  const es2 = newEventSource(`${base}/events?topic=${encodeURIComponent(topic)}&lastEventId=not-a-cursor`);
  let reset;
  try {
    reset = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out waiting for sb-reset")), 15000);
      es2.addEventListener("sb-reset", (e) => { clearTimeout(timer); resolve({ id: e.lastEventId, data: JSON.parse(e.data) }); });
      es2.onerror = () => { clearTimeout(timer); reject(new Error(`sb-reset stream failed, readyState ${es2.readyState}`)); };
    });
  } finally {
    es2.close();
  }
  return { got, cursors, opens, resets, reset };
}
