// Type-checks switchboard.d.mts (ws/js) the way an application uses the
// client (tsc --strict, run by TestJSClientTypes). Never executed.
import { connect, SwitchboardError, type Event, type Message, type State } from "../../../ws/js/switchboard.mjs";

export async function usage(): Promise<void> {
  const sb = connect("/ws", { token: async () => "t", minBackoff: 50, onState: (s: State, d?: unknown) => void [s, d] });
  await sb.ready();
  const sub = sb.subscribe("chat/#", { since: "c-1", buffer: 100 });
  await sub.ready;
  for await (const ev of sub) {
    const e: Event = ev;
    if (e.type === "gap") continue;
    const topic: string = e.topic;
    const bytes: Uint8Array = e.bytes();
    const text: string = e.text();
    const format: "json" | "text" | "bytes" | "empty" = e.format;
    void [topic, bytes, text, format, e.cursor, e.header["k"]];
    // @ts-expect-error a gap has no topic, so an event needs narrowing
    void ev.topic;
  }
  sb.subscribe("b/+", { group: "g", onMessage: (m: Message) => void m.data, onGap: () => {}, onError: (err: SwitchboardError) => void err.code });
  const ack = await sb.publish("chat/a", new Uint8Array([1]), { key: "k1", header: { a: "b" }, retain: true });
  const cursor: string | undefined = ack.cursor;
  const reply: Message = await sb.request("svc/x", { q: 1 }, { timeout: 1000 });
  await sb.reply(reply, "text");
  sb.serve("svc/y", async (req) => ({ echo: req.data }));
  // @ts-expect-error the topic is a string
  await sb.publish(42, "x");
  void cursor;
  sub.close();
  sb.close();
}
