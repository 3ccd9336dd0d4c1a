// The desk's event stream (GET /api/v1/events, Server-Sent Events), read with
// fetch() and a ReadableStream rather than EventSource, because EventSource
// cannot send the Authorization header and the session token must not go
// into a URL (logs, history). The stream reconnects by itself with
// Last-Event-ID, so nothing written while it was down is missed.
import { token } from "./api";

export interface DeskEvent {
  id: string;
  type: string;
  data: any;
}

type Listener = (e: DeskEvent) => void;
type StatusListener = (live: boolean) => void;

// The desk sends a keep-alive comment every 15 s; a stream silent for longer
// than this is treated as dropped (a proxy or a sleeping laptop).
const silenceLimitMs = 40000;

export class EventStream {
  private listeners = new Set<Listener>();
  private statusListeners = new Set<StatusListener>();
  private lastId = "";
  private abort: AbortController | null = null;
  private stopped = true;
  private backoffMs = 1000;
  private wake: (() => void) | null = null;
  // generation counts start()s: a loop whose generation is no longer current
  // ends, so a stop() and start() in quick succession (logout and login in
  // one tab) never leaves two streams holding two of the browser's six
  // connections to the desk.
  private generation = 0;
  live = false;

  constructor() {
    // The browser knows first when the network is gone (a stream can stay
    // silently open for a long time); when it is back, reconnect at once.
    window.addEventListener("offline", () => this.abort?.abort());
    window.addEventListener("online", () => {
      this.backoffMs = 1000;
      this.wake?.();
    });
  }

  on(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onStatus(fn: StatusListener): () => void {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.lastId = "";
    void this.loop(++this.generation);
  }

  stop() {
    this.stopped = true;
    this.generation++;
    this.abort?.abort();
    this.wake?.();
    this.setLive(false);
  }

  private setLive(live: boolean) {
    if (this.live === live) return;
    this.live = live;
    this.statusListeners.forEach((fn) => fn(live));
  }

  private async loop(generation: number) {
    const current = () => !this.stopped && generation === this.generation;
    while (current()) {
      try {
        await this.readOnce();
      } catch {
        /* dropped: reconnect below */
      }
      if (!current()) return;
      this.setLive(false);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, this.backoffMs);
        this.wake = () => { clearTimeout(timer); r(); };
      });
      this.wake = null;
      this.backoffMs = Math.min(this.backoffMs * 2, 10000);
    }
  }

  private async readOnce() {
    this.abort = new AbortController();
    const headers: Record<string, string> = { Authorization: "Bearer " + token(), Accept: "text/event-stream" };
    if (this.lastId) headers["Last-Event-ID"] = this.lastId;
    const resp = await fetch("/api/v1/events", { headers, signal: this.abort.signal, cache: "no-store" });
    if (!resp.ok || !resp.body) throw new Error(`event stream: HTTP ${resp.status}`);
    this.setLive(true);
    this.backoffMs = 1000;
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let watchdog = window.setTimeout(() => this.abort?.abort(), silenceLimitMs);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        window.clearTimeout(watchdog);
        watchdog = window.setTimeout(() => this.abort?.abort(), silenceLimitMs);
        buffer += value.replace(/\r\n?/g, "\n");
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          this.dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } finally {
      window.clearTimeout(watchdog);
    }
  }

  // dispatch parses one event block (lines of "field: value").
  private dispatch(block: string) {
    let id = "";
    let type = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "id") id = value;
      else if (field === "event") type = value;
      else if (field === "data") data.push(value);
    }
    if (id) this.lastId = id;
    if (data.length === 0) return;
    let parsed: any;
    try {
      parsed = JSON.parse(data.join("\n"));
    } catch {
      return; // not a ticket: nothing a page can use
    }
    this.listeners.forEach((fn) => fn({ id, type, data: parsed }));
  }
}

export const events = new EventStream();
