// Demo viewer page, as a brand's H5 page would embed it: /watch?room=<id>&token=<viewer token>
import { RoomClient, pageParams, h, timeOf } from "/static/liveroom.js";
import * as coupons from "/static/watch-coupons.js";
import * as draws from "/static/watch-draws.js";
import * as sales from "/static/watch-sales.js";
import * as shows from "/static/watch-show.js";

const $ = (id) => document.getElementById(id);
const SHOWN_MAX = 100;
const LIKE_EVERY_MS = 300; // taps are batched: at most one like frame per this period
const LIKES_PER_FRAME = 100; // the server's likes_per_frame_max default

const { room, token, ref, src } = pageParams();
const client = new RoomClient(room, token, { ref, src }); // a share link attributes the visit
const list = $("comments");
let me = null;
let likesShown = 0;

// ---- small UI helpers ----
let toastTimer = 0;
function toast(text) {
  $("toast").textContent = text;
  $("toast").classList.remove("hidden");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => $("toast").classList.add("hidden"), 3000);
}

function hint(text) {
  $("hint").textContent = text || "";
  $("hint").classList.toggle("hidden", !text);
}

function setLikes(n) {
  likesShown = Math.max(likesShown, n);
  $("likes").textContent = likesShown;
}

function renderRoom(r) {
  if (r.title !== undefined) {
    $("title").textContent = r.title || "Live";
    document.title = r.title || "Live";
  }
  if (r.pinned !== undefined) renderPinned(r.pinned);
  if (r.status === "ended") $("ended").classList.remove("hidden");
}

function renderPinned(text) {
  $("pinned").textContent = text ? `📌 ${text}` : "";
  $("pinned").classList.toggle("hidden", !text);
}

function show(li) {
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(li);
  while (list.children.length > SHOWN_MAX) list.firstChild.remove();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function addComment(c) {
  if (list.querySelector(`li[data-id="${CSS.escape(c.id)}"]`)) return; // our own: ack and tick
  const mine = me && c.uid === me.uid;
  const nick = c.host ? `${c.nick || "Host"} · host` : c.nick || "viewer";
  show(h("li", { "data-id": c.id, class: mine ? "mine" : "" }, h("span", { class: "nick" }, nick), c.text));
}

let unmuteTimer = 0;
function mutedHint(until) {
  const left = until * 1000 - Date.now();
  hint(left > 0 ? `You are muted until ${timeOf(until * 1000)}.` : "");
  clearTimeout(unmuteTimer);
  if (left > 0) unmuteTimer = setTimeout(() => hint(""), left);
}

// ---- room events ----
const onEvent = {
  comment: addComment,
  comment_deleted(e) {
    list.querySelector(`li[data-id="${CSS.escape(e.comment_id)}"]`)?.remove();
  },
  announce: (e) => show(h("li", { class: "announce" }, h("span", { class: "nick" }, "📣"), e.text)),
  pin: (e) => renderPinned(e.text),
  room: renderRoom,
  moderation(e) {
    if (!me || e.uid !== me.uid) return;
    if (e.action === "mute") mutedHint(e.until);
    if (e.action === "unmute") mutedHint(0);
  },
};

/** Feature modules (sales, coupons, draws) add their renderers here. */
export const extensions = { onEvent, onState: [], onWelcome: [], client, toast };

client.addEventListener("welcome", ({ detail: w }) => {
  me = w.you;
  if (w.recovered !== true) {
    list.replaceChildren();
    for (const c of w.comments) addComment(c);
    list.scrollTop = list.scrollHeight;
  }
  renderRoom(w.room);
  $("viewers").textContent = w.viewers;
  setLikes(w.likes);
  const guest = w.you.anonymous;
  for (const id of ["text", "send", "like"]) $(id).disabled = guest;
  if (guest) {
    hint("You are watching as a guest. Open the show from the brand's mini-program to comment and like.");
  }
  else if (w.you.muted_until) mutedHint(w.you.muted_until);
  for (const fn of extensions.onWelcome) fn(w);
});
client.addEventListener("event", ({ detail: e }) => onEvent[e.type]?.(e));
client.addEventListener("state", ({ detail: s }) => {
  if (s.viewers !== undefined) $("viewers").textContent = s.viewers;
  if (s.likes !== undefined) setLikes(s.likes);
  for (const fn of extensions.onState) fn(s);
});
let refusal = ""; // why the server is about to close us, e.g. a room that needs sign-in
client.addEventListener("error", ({ detail: err }) => {
  if (err.rid === undefined) refusal = err.message;
  if (err.code === "muted" && err.retry_after) mutedHint(Date.now() / 1000 + err.retry_after);
  if (err.rid === undefined) toast(err.message);
});
client.addEventListener("status", ({ detail: s }) => {
  if (s.state !== "closed") return;
  if (s.code === 4004) $("ended").classList.remove("hidden");
  else if (s.code === 4010) toast("You were removed from this room.");
  else toast(`${refusal || "Disconnected"}. Reload the page to rejoin.`);
});

// ---- say something ----
function clientId() {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

function friendly(err) {
  const wait = err.retry_after ? ` (${Math.ceil(err.retry_after)}s)` : "";
  const words = {
    muted: "You are muted",
    slow_mode: "Slow mode is on: please wait",
    rate_limited: "You are commenting too fast",
    blocked_word: "That comment cannot be posted here",
  };
  return (words[err.code] || err.message) + wait;
}

$("say").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("text").value.trim();
  if (!text) return;
  try {
    const ack = await client.request({ t: "comment", text, id: clientId() });
    $("text").value = "";
    addComment(ack.comment);
  } catch (err) {
    toast(friendly(err));
  }
});

// ---- likes: count taps locally, send one batch at most every LIKE_EVERY_MS ----
let taps = 0;
let lastSent = 0;
let likeTimer = 0;

function flushLikes() {
  likeTimer = 0;
  if (!taps) return;
  const n = Math.min(taps, LIKES_PER_FRAME);
  if (client.send({ t: "like", n })) taps -= n;
  lastSent = Date.now();
  if (taps) likeTimer = setTimeout(flushLikes, LIKE_EVERY_MS);
}

$("like").addEventListener("click", () => {
  taps += 1;
  setLikes(likesShown + 1);
  const heart = h("span", { class: "heart" }, "♥");
  $("say").append(heart);
  heart.addEventListener("animationend", () => heart.remove());
  if (!likeTimer) likeTimer = setTimeout(flushLikes, Math.max(0, lastSent + LIKE_EVERY_MS - Date.now()));
});

sales.install(extensions);
coupons.install(extensions);
draws.install(extensions);
shows.install(extensions);
window.liveroom = client;
client.connect();
