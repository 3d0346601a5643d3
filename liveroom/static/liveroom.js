// A small browser client for the liveroom room socket (JSON subprotocol).
//
// It owns the socket, the last seen `seq` and reconnection, so the pages only render
// what it reports: `welcome`, `event` (one per room event, in seq order), `state`
// (likes, viewers and other latest values), `ack`, `error` and `status` (connection).

const NO_RETRY = new Set([4001, 4002, 4003, 4004, 4010]); // auth, room ended, banned
const SERVICE_RESTART = 1012; // the server is restarting: come back (to another process)
const RESUME = new Set([4008, SERVICE_RESTART]); // the close reason carries `since`
const KEEPALIVE_MS = 25000; // under the ~55 s idle cut of common proxies and PaaS routers

export class RoomClient extends EventTarget {
  /** `link`: the share code and channel of the link the page was opened with (?ref, ?src). */
  constructor(room, token, link = {}) {
    super();
    this.room = room;
    this.token = token || "";
    this.link = link;
    this.seq = null; // last room seq applied; sent back as `since` after a drop
    this.ws = null;
    this.nextRid = 1;
    this.pending = new Map(); // rid -> {resolve, reject}
    this.retryMs = 500;
    this.stopped = false;
    this.skew = 0; // server clock minus ours, ms: countdowns use server time
    setInterval(() => this.send({ t: "ping" }), KEEPALIVE_MS);
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const q = new URLSearchParams();
    if (this.token) q.set("token", this.token);
    if (this.link.ref) q.set("ref", this.link.ref);
    if (this.link.src) q.set("src", this.link.src);
    if (this.seq !== null) q.set("since", String(this.seq));
    return `${scheme}://${location.host}/ws/rooms/${encodeURIComponent(this.room)}?${q}`;
  }

  connect() {
    this.stopped = false;
    this.emit("status", { state: "connecting" });
    const ws = new WebSocket(this.url(), ["liveroom.json"]);
    this.ws = ws;
    ws.onmessage = (msg) => this.onFrame(JSON.parse(msg.data));
    ws.onclose = (ev) => this.onClose(ev);
  }

  close() {
    this.stopped = true;
    if (this.ws) this.ws.close(1000);
  }

  /** Send a frame with a fresh rid; resolves with its ack, rejects with its error frame. */
  request(frame) {
    const rid = this.nextRid++;
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject({ t: "error", code: "offline", message: "not connected yet; try again in a moment" });
        return;
      }
      this.pending.set(rid, { resolve, reject });
      this.ws.send(JSON.stringify({ ...frame, rid }));
    });
  }

  /** Fire and forget (likes). */
  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  onFrame(f) {
    switch (f.t) {
      case "welcome": {
        this.retryMs = 500;
        if (f.server_time) this.skew = f.server_time - Date.now();
        // A room behind our `since` was reset (e.g. a memory-engine restart): start afresh.
        if (f.recovered === true && this.seq !== null && f.seq < this.seq) {
          f = { ...f, recovered: false, events: [] };
          this.seq = null;
        }
        // recovered: we keep our view and replay what we missed; otherwise start afresh
        this.emit("welcome", f);
        this.emit("status", { state: "live", recovered: f.recovered });
        for (const e of f.events || []) this.applyEvent(e);
        this.seq = f.seq;
        break;
      }
      case "tick":
      case "state": {
        for (const e of f.events || []) this.applyEvent(e);
        if (typeof f.seq === "number") this.seq = Math.max(this.seq ?? 0, f.seq);
        const { t, seq, events, ...state } = f;
        if (Object.keys(state).length) this.emit("state", state);
        break;
      }
      case "ack":
      case "error": {
        const waiter = f.rid !== undefined ? this.pending.get(f.rid) : undefined;
        if (waiter) {
          this.pending.delete(f.rid);
          f.t === "ack" ? waiter.resolve(f) : waiter.reject(f);
        }
        this.emit(f.t, f);
        break;
      }
      default:
        this.emit("frame", f);
    }
  }

  applyEvent(e) {
    if (this.seq !== null && e.seq <= this.seq) return; // already seen
    this.seq = e.seq;
    this.emit("event", e);
  }

  onClose(ev) {
    for (const { reject } of this.pending.values()) {
      reject({ t: "error", code: "disconnected", message: "connection closed" });
    }
    this.pending.clear();
    if (RESUME.has(ev.code)) {
      // slow consumer, or this server restarting: the reason tells where to resume from
      try {
        const hint = JSON.parse(ev.reason);
        if (typeof hint.since === "number") this.seq = hint.since;
      } catch {}
    }
    const final = this.stopped || NO_RETRY.has(ev.code);
    this.emit("status", { state: final ? "closed" : "reconnecting", code: ev.code, reason: ev.reason });
    if (final) return;
    // A restart hands every viewer of a process over at once: spread them out, so the
    // process they land on is not hit by all of them in the same instant.
    const delay =
      ev.code === SERVICE_RESTART ? 250 + Math.random() * 1500 : this.retryMs + Math.random() * 250;
    this.retryMs = Math.min(this.retryMs * 2, 8000);
    setTimeout(() => this.connect(), delay);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

/** Query parameters of the page: room and token, and a share link's ref and src. */
export function pageParams() {
  const q = new URLSearchParams(location.search);
  return {
    room: q.get("room") || "demo",
    token: q.get("token") || "",
    ref: q.get("ref") || "",
    src: q.get("src") || "",
  };
}

/** Build an element: h("div", {class: "x", onclick: fn}, child, "text"). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Open a page of the brand's mini-program (a checkout, a coupon, a prize): inside WeChat's
 * web-view through its JS-SDK; anywhere else `say` tells where it would go. */
export function openInMiniProgram(path, say) {
  const url = `/${path.replace(/^\//, "")}`;
  if (window.wx?.miniProgram) window.wx.miniProgram.navigateTo({ url });
  else say(`In the mini-program this opens ${url}`);
}

export function timeOf(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/** A panel row's state badge (a sale, a drop, a draw): its word, green while live. */
export function showState(badge, status) {
  badge.textContent = status;
  badge.className = `badge state ${status === "live" ? "live" : ""}`;
}

/** "1:05" until a server-time deadline (unix ms), never below 0:00. */
export function clock(endsAt, client) {
  const s = Math.max(0, Math.ceil((endsAt - Date.now() - (client?.skew || 0)) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function countdown(endsAt, client) {
  return `${clock(endsAt, client)} left`;
}

// Answers after which a create may or may not have happened: the next press must be the
// same create (same name), which the server makes once.
const MAYBE_DONE = new Set(["unavailable", "disconnected", "internal"]);

/**
 * The name a host's create (a draw, a sale, a drop) goes out with, kept until the server
 * has answered it for sure: pressing the button again after a lost connection or
 * `unavailable` sends the same create, and the server makes one (a repeat answers
 * `*_exists`). Editing the form makes it another create.
 */
export class CreateName {
  constructor(form, prefix) {
    this.prefix = prefix;
    this.value = null;
    form.addEventListener("input", () => this.reset());
  }

  /** Another create from now on (the form was changed, or filled in by the page). */
  reset() {
    this.value = null;
  }

  /** The name for this press. */
  next() {
    this.value ??= `${this.prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
    return this.value;
  }

  /** The press was answered: by an ack (no error), or by an error frame. */
  answered(err = null) {
    if (!err || !MAYBE_DONE.has(err.code)) this.reset();
  }
}
