// The show on the viewer page: before the start, the cover, a countdown and "Remind me";
// live, the HLS stream under the comments; after the end, the recording with the comments,
// pins, sales and draws appearing when they happened in the show.
import { h } from "/static/liveroom.js";

const $ = (id) => document.getElementById(id);
const HLS = "/static/vendor/hls.light.min.mjs"; // hls.js (Apache-2.0), see vendor/README.md

function left(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(s / 86400);
  const hh = String(Math.floor((s % 86400) / 3600)).padStart(2, "0");
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return `${d ? `${d}d ` : ""}${hh}:${mm}:${ss}`;
}

export function install(ext) {
  const { client, onEvent, onWelcome, toast } = ext;
  const stage = document.querySelector(".stage");
  const video = h("video", { id: "video", class: "video hidden", playsinline: true, muted: true, autoplay: true });
  video.muted = true; // autoplay needs it; the viewer can unmute
  stage.prepend(video);
  const card = h("div", { id: "show-card", class: "show-card hidden" });
  $("extras").prepend(card);
  let show = null;
  let me = null;
  let hls = null;
  let countdown = 0;

  function mode(text) {
    document.querySelector(".live-dot").textContent = text;
  }

  // ---- the stream ----
  async function play(url) {
    if (hls) hls.destroy();
    hls = null;
    if (!url) {
      video.classList.add("hidden"); // no stream set: the page stays as it was
      return;
    }
    video.classList.remove("hidden");
    let Hls = null;
    if (url.includes(".m3u8")) {
      try {
        Hls = (await import(HLS)).default;
      } catch {
        Hls = null;
      }
    }
    if (Hls && Hls.isSupported()) {
      hls = new Hls();
      hls.on(Hls.Events.ERROR, (_, data) => {
        if (data.fatal) {
          video.classList.add("hidden");
          toast("The video cannot be played right now.");
        }
      });
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (!url.includes(".m3u8") || video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = url; // native HLS (Safari, some Chromes) or a plain video file
    } else {
      video.classList.add("hidden");
      return;
    }
    video.play().catch(() => {}); // muted autoplay; a tap starts it where it is refused
  }
  video.addEventListener("click", () => {
    video.muted = !video.muted;
    video.play().catch(() => {});
  });

  // ---- before the start ----
  async function remind() {
    try {
      await client.request({ t: "remind_me" });
      show.subscribed = true;
      renderScheduled();
    } catch (err) {
      toast(err.code === "login_required" ? "Open the show from the mini-program to be reminded" : err.message);
    }
  }

  function renderScheduled() {
    const guest = !me || me.anonymous || me.role === "host";
    const action = show.subscribed
      ? h("div", { class: "reminded" }, "✓ We'll remind you")
      : h("button", { class: "remind", disabled: guest, onclick: remind }, "🔔 Remind me");
    const parts = [
      show.cover ? h("img", { class: "cover", src: show.cover, alt: "" }) : null,
      h("div", { class: "when" }, "Starts in ", h("b", { class: "countdown" }, left(show.starts_at - Date.now() - client.skew))),
      h("div", { class: "small start-time" }, new Date(show.starts_at).toLocaleString()),
      action,
    ];
    card.replaceChildren(...parts.filter(Boolean));
    card.classList.remove("hidden");
    mode("SOON");
    clearInterval(countdown);
    countdown = setInterval(() => {
      const el = card.querySelector(".countdown");
      if (el) el.textContent = left(show.starts_at - Date.now() - client.skew);
    }, 250);
  }

  function goLive(s) {
    show = { ...show, ...s };
    clearInterval(countdown);
    card.classList.add("hidden");
    mode("● LIVE");
    play(show.hls_url);
  }

  // ---- after the end: the recording, with the show's events at their moments ----
  const replay = { events: [], next: 0, shown: [] };
  window.liveroomReplay = replay; // what tests (and curious developers) look at

  async function loadReplay() {
    let after = 0;
    const events = [];
    for (;;) {
      const resp = await fetch(`/api/shows/${encodeURIComponent(client.room)}/replay?after=${after}&count=1000`);
      if (!resp.ok) break;
      const page = await resp.json();
      events.push(...page.events);
      if (!page.events.length) break;
      after = page.next;
    }
    return events;
  }

  function tick() {
    const now = video.currentTime * 1000;
    if (replay.next > 0 && replay.events[replay.next - 1]?.offset_ms > now + 1000) {
      $("comments").replaceChildren(); // sought back: start over
      replay.next = 0;
    }
    while (replay.next < replay.events.length && replay.events[replay.next].offset_ms <= now) {
      const e = replay.events[replay.next++];
      replay.shown.push({ type: e.type, text: e.text, offset_ms: e.offset_ms, at_ms: Math.round(now) });
      onEvent[e.type]?.(e);
    }
  }

  async function startReplay() {
    const resp = await fetch(`/api/shows/${encodeURIComponent(client.room)}`);
    if (!resp.ok) return;
    show = (await resp.json()).show;
    if (!show.replay_url) return; // nothing recorded: the "ended" notice stays
    $("ended").classList.add("hidden");
    $("say").classList.add("hidden");
    card.classList.add("hidden");
    mode("REPLAY");
    $("comments").replaceChildren();
    replay.events = await loadReplay();
    replay.next = 0;
    video.addEventListener("timeupdate", tick);
    await play(show.replay_url);
  }

  // ---- wiring ----
  onWelcome.push((w) => {
    me = w.you;
    if (!w.show) return;
    show = { ...w.show };
    if (show.status === "scheduled") renderScheduled();
    else if (show.status === "live" && !hls) goLive({});
  });
  const onRoom = onEvent.room;
  onEvent.room = (e) => {
    onRoom(e);
    if (!e.show) return;
    if (e.status === "live") goLive(e.show);
    else if (e.status === "scheduled") {
      show = { ...show, ...e.show };
      renderScheduled();
    } else if (!e.status && show?.status === "live" && e.show.hls_url !== show.hls_url) goLive(e.show);
  };
  client.addEventListener("status", ({ detail: s }) => {
    if (s.state === "closed" && s.code === 4004) {
      clearInterval(countdown);
      if (hls) hls.destroy();
      hls = null;
      startReplay();
    }
  });
}
