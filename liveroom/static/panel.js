// Host control panel: /panel?room=<id>&token=<host token>
import { RoomClient, pageParams, h, timeOf } from "/static/liveroom.js";
import * as coupons from "/static/panel-coupons.js";
import * as draws from "/static/panel-draws.js";
import * as figures from "/static/panel-figures.js";
import * as sales from "/static/panel-sales.js";
import * as shows from "/static/panel-show.js";

const $ = (id) => document.getElementById(id);
const FEED_MAX = 500;
const { room, token } = pageParams();
const client = new RoomClient(room, token);
const feed = $("feed");

// ---- activity log: every ack and error the host caused, visibly ----
function log(text, ok) {
  const li = h("li", { class: ok ? "ok" : "err" }, `${timeOf(Date.now())} ${text}`);
  $("log").prepend(li);
  while ($("log").children.length > 100) $("log").lastChild.remove();
}

/** Send a host command; report its ack or error in the activity log. The ack, or null
 * after an error frame, which goes to `onError` too when the caller acts on its code. */
async function command(frame, label, { onError } = {}) {
  try {
    const ack = await client.request(frame);
    log(`${label}${ack.seq ? ` · seq ${ack.seq}` : ""}`, true);
    return ack;
  } catch (err) {
    log(`${label} refused: ${err.message} (${err.code})`, false);
    onError?.(err);
    return null;
  }
}

// ---- room header ----
function renderRoom(r) {
  if (r.title !== undefined) {
    $("title").textContent = r.title || "Untitled show";
    document.title = `${r.title || room} · host panel`;
  }
  if (r.status !== undefined) {
    $("status").textContent = r.status;
    $("status").className = `badge ${r.status}`;
    if (r.status === "ended") showBanner("The show has ended. Viewers were disconnected.");
  }
  if (r.pinned !== undefined) renderPinned(r.pinned);
  if (r.slow_mode !== undefined) {
    $("slow").textContent = `slow mode ${r.slow_mode}s`;
    $("slow").classList.toggle("hidden", !r.slow_mode);
    $("slow-form").seconds.value = r.slow_mode;
  }
}

function renderPinned(text) {
  $("pinned").textContent = text || "nothing pinned";
  $("pinned").classList.toggle("muted", !text);
  $("unpin").disabled = !text;
}

function renderState(s) {
  if (s.viewers !== undefined) $("viewers").textContent = s.viewers;
  if (s.likes !== undefined) $("likes").textContent = s.likes;
}

function showBanner(text) {
  $("banner").textContent = text;
  $("banner").classList.remove("hidden");
}

// ---- comment feed (newest first; hosts see every comment) ----
function tierBadge(tier) {
  return tier ? h("span", { class: `badge ${tier}` }, tier) : null;
}

function addComment(c) {
  if (feed.querySelector(`li[data-id="${CSS.escape(c.id)}"]`)) return;
  const hint = `user id ${c.uid}: click to moderate`;
  const author = h("span", { class: "who", title: hint, onclick: () => pickUser(c.uid) }, c.nick || c.uid);
  const remove = () => command({ t: "delete_comment", comment_id: c.id }, "delete comment");
  const li = h(
    "li",
    { "data-id": c.id, "data-uid": c.uid, class: "comment" },
    h("span", { class: "muted small" }, timeOf(c.ts)),
    h(
      "div",
      { class: "body" },
      author, " ", c.host ? h("span", { class: "badge host" }, "host") : tierBadge(c.tier),
      h("span", { class: "muted small" }, ` ${c.uid}`),
      h("div", { class: "text" }, c.text),
    ),
    h(
      "div",
      { class: "actions" },
      h("button", { class: "pin-comment", onclick: () => pinComment(c) }, "Pin"),
      h("button", { class: "delete", onclick: remove }, "Delete"),
      c.host ? null : h("button", { class: "mute", onclick: () => moderate("mute", c.uid) }, "Mute"),
      c.host ? null : h("button", { class: "ban danger", onclick: () => moderate("ban", c.uid) }, "Ban"),
    ),
  );
  feed.prepend(li);
  while (feed.children.length > FEED_MAX) feed.lastChild.remove();
  $("comment-count").textContent = `(${feed.querySelectorAll("li.comment").length})`;
}

function addSystem(text) {
  const when = h("span", { class: "small" }, timeOf(Date.now()));
  feed.prepend(h("li", { class: "system" }, when, h("div", { class: "body" }, text)));
}

/** A good question from the audience, pinned for everyone with its author's name. */
function pinComment(c) {
  return command({ t: "pin", text: `${c.nick || c.uid}: ${c.text}` }, "pin comment");
}

function pickUser(uid) {
  const form = $("mod-form");
  form.uid.value = uid;
  form.uid.focus();
}

function moderate(action, uid) {
  if (action === "ban" && !confirm(`Ban ${uid} from this room? They are disconnected at once.`)) return;
  const frame = { t: action, uid };
  if (action === "mute") frame.seconds = Math.max(1, parseInt($("mod-form").seconds.value, 10) || 600);
  return command(frame, `${action} ${uid}`);
}

// ---- events from the room ----
const onEvent = {
  comment: addComment,
  comment_deleted(e) {
    const li = feed.querySelector(`li[data-id="${CSS.escape(e.comment_id)}"]`);
    if (li) li.classList.add("deleted");
  },
  announce: (e) => addSystem(`📣 announcement: ${e.text}`),
  pin(e) {
    renderPinned(e.text);
    addSystem(e.text ? `📌 pinned: ${e.text}` : "📌 unpinned");
  },
  moderation(e) {
    const until = e.until ? ` until ${timeOf(e.until * 1000)}` : "";
    addSystem(`🛡 ${e.uid}: ${e.action}${until}`);
  },
  room(e) {
    renderRoom(e);
    if (e.title !== undefined) addSystem(`title set to "${e.title}"`);
    if (e.slow_mode !== undefined) addSystem(`slow mode ${e.slow_mode ? `${e.slow_mode}s` : "off"}`);
    if (e.keywords !== undefined) addSystem(`comment filter now blocks ${e.keywords} word(s)`);
  },
};

/** Feature modules (sales, coupons, draws) add their event renderers and state handlers here. */
export const extensions = { onEvent, onState: [], onWelcome: [], command, log, client };

client.addEventListener("welcome", ({ detail: w }) => {
  if (w.recovered !== true) {
    feed.replaceChildren();
    for (const c of w.comments) addComment(c);
  }
  renderRoom(w.room);
  renderState(w);
  $("room-id").textContent = `room ${w.room.id} · you are ${w.you.nick || w.you.uid}`;
  if (w.you.role !== "host") showBanner("This token is not a host token: host commands will be refused.");
  if (w.recovered === true) log(`reconnected; ${w.events.length} missed events replayed`, true);
  else if (w.recovered === false) log("reconnected; history too old, reloaded a fresh snapshot", true);
  for (const fn of extensions.onWelcome) fn(w);
});
client.addEventListener("event", ({ detail: e }) => onEvent[e.type]?.(e));
client.addEventListener("state", ({ detail: s }) => {
  renderState(s);
  for (const fn of extensions.onState) fn(s);
});
client.addEventListener("error", ({ detail: err }) => {
  if (err.rid === undefined) log(`server: ${err.message} (${err.code})`, false);
});
client.addEventListener("status", ({ detail: s }) => {
  const labels = {
    connecting: "connecting",
    live: "connected",
    reconnecting: "reconnecting…",
    closed: "disconnected",
  };
  $("conn").textContent = labels[s.state];
  $("conn").className = `conn ${s.state} small`;
  if (s.state === "reconnecting") log(`connection lost (${s.code}); reconnecting`, false);
  if (s.state === "closed" && s.code !== 4004) {
    showBanner(`Disconnected (${s.code}${s.reason ? `: ${s.reason}` : ""}). Reload to try again.`);
  }
});

// ---- controls ----
function onSubmit(id, fn) {
  $(id).addEventListener("submit", async (ev) => {
    ev.preventDefault();
    await fn(ev.target, ev.submitter);
  });
}

onSubmit("announce-form", async (f) => {
  if (await command({ t: "announce", text: f.text.value }, "announce")) f.reset();
});
onSubmit("pin-form", async (f) => {
  if (await command({ t: "pin", text: f.text.value }, "pin")) f.reset();
});
$("unpin").addEventListener("click", () => command({ t: "pin", text: null }, "unpin"));
onSubmit("mod-form", (f, button) => moderate(button?.value || "mute", f.uid.value.trim()));
onSubmit("title-form", async (f) => {
  if (await command({ t: "set_title", title: f.title.value }, "set title")) f.reset();
});
onSubmit("slow-form", (f) => {
  return command({ t: "slow_mode", seconds: parseInt(f.seconds.value, 10) || 0 }, "slow mode");
});
onSubmit("keywords-form", (f) => {
  // replaces the whole list; an empty box clears the filter
  const words = f.keywords.value.split(/[,，\n]/).map((w) => w.trim()).filter(Boolean);
  return command({ t: "set_keywords", keywords: words }, `blocked words (${words.length})`);
});
$("end").addEventListener("click", () => {
  if (confirm("End the show for everyone? This cannot be undone.")) command({ t: "end" }, "end the show");
});

sales.install(extensions);
coupons.install(extensions);
draws.install(extensions);
shows.install(extensions);
figures.install(extensions);
window.liveroom = client; // handy in the console
client.connect();
