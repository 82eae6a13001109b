// Types of switchboard.mjs, the client for Switchboard's WebSocket
// protocol switchboard.v1.

/** Connection state: "connecting" until the first connection is open,
 * "reconnecting" while it waits to retry, "closed" for good. */
export type State = "connecting" | "open" | "reconnecting" | "closed";

/** What a payload argument may be. Bytes travel as they are; a string as
 * its UTF-8 bytes (so a string holding JSON text arrives as JSON, like a
 * REST body); anything else (object, array, number, boolean, null) is
 * JSON-encoded; undefined sends no payload. */
export type Payload = Uint8Array | ArrayBuffer | ArrayBufferView | string | unknown;

export interface ClientOptions {
  /** Bearer token sent as the access_token query parameter; a function is
   * asked on every (re)connect. */
  token?: string | (() => string | Promise<string>);
  /** Further subprotocols offered after "switchboard.v1". */
  protocols?: string[];
  /** The WebSocket class (default globalThis.WebSocket); in Node < 22 pass
   * the npm ws package's WebSocket. */
  WebSocket?: new (url: string, protocols?: string | string[]) => WebSocket;
  /** Backoff between reconnects, in ms: the delay doubles from minBackoff
   * (100) up to maxBackoff (5000), each drawn from [d/2, d]. */
  minBackoff?: number;
  maxBackoff?: number;
  /** ms a connection may take to open and answer the greeting ping
   * (10000) before it is given up and retried. 0 = no limit. */
  connectTimeout?: number;
  /** Application ping interval in ms (25000); a connection that has not
   * answered the previous ping when the next is due is replaced. 0 = off. */
  pingInterval?: number;
  /** Default time in ms a publish waits for its ack, including the wait
   * for a connection (10000). */
  timeout?: number;
  /** Default request timeout in ms (10000). */
  requestTimeout?: number;
  /** Called on every state change; detail is {code, reason, attempt, delay}
   * for "reconnecting" and the error for "closed". */
  onState?: (state: State, detail?: unknown) => void;
}

/** A message delivered to a subscription or returned by request(). */
export interface Message {
  type: "message";
  topic: string;
  /** The broker's message id (undefined on replies). */
  id?: string;
  /** Position in the broker's history, where it keeps one. */
  cursor?: string;
  /** RFC 3339 time the broker accepted the message. */
  time?: string;
  header: Record<string, string>;
  /** True when the message came from the retained store, not a live publish. */
  retain: boolean;
  /** How the payload travelled: JSON ("data"), UTF-8 text ("text"), other
   * bytes ("data_b64") or none. */
  format: "json" | "text" | "bytes" | "empty";
  /** The payload decoded: the JSON value, the string, the bytes, or
   * undefined when empty. */
  data: unknown;
  /** The payload as bytes (JSON is re-encoded by JSON.stringify). */
  bytes(): Uint8Array;
  /** The payload as text (bytes decoded as UTF-8, JSON stringified). */
  text(): string;
}

/** The server could not replay everything since the subscription's cursor
 * (history gone, or the broker restarted): some messages may be missing. */
export interface Gap {
  type: "gap";
}

export type Event = Message | Gap;

export interface Ack {
  /** The message id the broker assigned (or the idempotency key). */
  id?: string;
  cursor?: string;
  time?: string;
}

export interface SubscribeOptions {
  /** Resume after this cursor (from a previous session). */
  since?: string;
  /** Share the subscription with the group's other members. */
  group?: string;
  /** Callback form: each message; the subscription is then not iterated. */
  onMessage?: (m: Message) => void;
  /** Callback form (with onMessage): a gap. */
  onGap?: () => void;
  /** The subscription ended with an error (refused, or the client closed
   * for good). */
  onError?: (err: SwitchboardError) => void;
  /** Iterator form: events held for a slow consumer (1000). When full, the
   * server side is paused and resumed from the cursor once drained. */
  buffer?: number;
}

export interface PublishOptions {
  header?: Record<string, string>;
  retain?: boolean;
  /** Idempotency key: the server delivers a key once within its dedup
   * window. A keyed publish cut off by a reconnect is sent again. */
  key?: string;
  /** ms to wait for the ack, including the wait for a connection. */
  timeout?: number;
}

export interface RequestOptions {
  header?: Record<string, string>;
  key?: string;
  /** ms to wait for the reply (the server is told the same). */
  timeout?: number;
}

export class SwitchboardError extends Error {
  /** A server error code (bad_request, unauthorized, forbidden, not_found,
   * too_large, rate_limited, not_supported, timeout, unavailable, internal)
   * or a local one: "closed", "refused" (closed 1002, 1003 or 1008),
   * "timeout", "unavailable" (the connection dropped before the answer). */
  code: string;
  constructor(code: string, message: string);
}

export class Subscription implements AsyncIterableIterator<Event> {
  readonly filter: string;
  readonly group?: string;
  /** The resume point: the cursor of the last delivered message (or the
   * head when the subscription started). */
  readonly cursor: string;
  /** Resolves when the server first confirmed the subscription. */
  readonly ready: Promise<void>;
  /** Ends the subscription; the iterator finishes. */
  close(): void;
  next(): Promise<IteratorResult<Event>>;
  return(): Promise<IteratorResult<Event>>;
  [Symbol.asyncIterator](): AsyncIterableIterator<Event>;
}

export class Client {
  readonly state: State;
  /** Why the client closed, once it has. */
  readonly error?: SwitchboardError;
  subscribe(filter: string, options?: SubscribeOptions): Subscription;
  publish(topic: string, payload?: Payload, options?: PublishOptions): Promise<Ack>;
  request(topic: string, payload?: Payload, options?: RequestOptions): Promise<Message>;
  /** Answers a request message (one with the sb-reply-to header). */
  reply(request: Message, payload?: Payload, options?: PublishOptions): Promise<Ack>;
  /** Subscribes to filter and answers each request with handler's result. */
  serve(filter: string, handler: (request: Message) => Payload | Promise<Payload>,
    options?: SubscribeOptions): Subscription;
  /** Resolves when the first connection is open; rejects if the client
   * closes first. */
  ready(): Promise<void>;
  close(): void;
}

export function connect(url: string | URL, options?: ClientOptions): Client;
