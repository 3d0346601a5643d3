// The show report for the host: /report?room=<id>&token=<host token>. Live while the show
// runs (refreshed every few seconds), final after it; the room's events as CSV or NDJSON.
import { h, pageParams } from "/static/liveroom.js";
import { bars, lines } from "/static/charts.js";

const $ = (id) => document.getElementById(id);
const { room, token } = pageParams();
const REFRESH_MS = 5000;
const auth = { Authorization: `Bearer ${token}` };

const yuan = (fen) => `¥${(fen / 100).toFixed(2)}`;
const percent = (x) => `${(100 * x).toFixed(1)}%`;
const minutes = (s) => (s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`);
const when = (ms) => (ms ? new Date(ms).toLocaleString() : "");

function banner(text) {
  $("banner").textContent = text;
  $("banner").classList.toggle("hidden", !text);
}

function rows(table, items, cells) {
  $(table).tBodies[0].replaceChildren(...items.map((it) => h("tr", { "data-key": it.key ?? "" }, ...cells(it).map((c) => h("td", {}, c)))));
}

function sourceName(s) {
  if (s.kind !== "code") return `channel ${s.channel}`;
  const who = s.owner ? `${s.owner.name || s.owner.id} (${s.owner.kind})` : "unknown owner";
  return `${s.ref} · ${who} · ${s.channel}${s.label ? ` · ${s.label}` : ""}`;
}

function render(r) {
  document.title = `${room} · report`;
  $("title").textContent = `Show report · ${room}`;
  $("status").textContent = r.final ? "final" : "live";
  $("status").className = `badge ${r.final ? "ended" : "live"}`;
  $("span").textContent = r.started_at
    ? `${when(r.started_at)} · ${minutes(r.duration_s)}`
    : "no viewers yet";
  $("r-unique").textContent = r.viewers.unique;
  $("r-peak").textContent = r.viewers.peak;
  $("r-avg").textContent = r.viewers.avg_concurrent;
  $("r-watch").textContent = minutes(Math.round(r.viewers.avg_watch_s));
  $("r-comments").textContent = r.comments;
  $("r-likes").textContent = r.likes;
  $("r-clicks").textContent = r.clicks;
  $("r-holds").textContent = r.holds;
  $("r-expired").textContent = r.expired;
  $("r-paid").textContent = r.paid;
  $("r-sales").textContent = yuan(r.paid_fen);
  $("r-conversion").textContent = percent(r.conversion.viewer_to_order);
  $("r-draws").textContent = r.draws.entrants;
  $("r-winners").textContent = r.draws.winners;

  const points = r.series.points;
  for (const el of document.querySelectorAll(".bucket")) el.textContent = `${r.series.bucket_s} s`;
  lines($("chart-viewers"), [{ label: "viewers", points: points.map((p) => p.viewers) }]);
  bars($("chart-comments"), points.map((p) => p.comments));
  bars($("chart-sales"), points.map((p) => p.paid_fen / 100), { color: "#1f9d55" });

  rows("r-inviters", r.inviters.map((i) => ({ ...i, key: i.owner.id })), (i) => [
    `${i.owner.name || i.owner.id} (${i.owner.kind})`,
    i.codes.join(" "),
    i.viewers,
    i.holds,
    i.paid,
    yuan(i.paid_fen),
  ]);
  const sources = Object.values(r.sources).sort((a, b) => b.paid_fen - a.paid_fen || b.viewers - a.viewers);
  rows("r-sources", sources, (s) => [
    sourceName(s),
    s.joins,
    s.viewers,
    minutes(s.watch_s),
    s.comments,
    s.clicks,
    s.holds,
    s.paid,
    yuan(s.paid_fen),
  ]);
  const products = Object.entries(r.products).map(([sku, p]) => ({ ...p, key: sku, sku }));
  rows("r-products", products, (p) => [p.sku, p.clicks, p.holds, p.paid, p.paid_units, p.expired, yuan(p.paid_fen)]);
}

async function load() {
  try {
    const resp = await fetch(`/rooms/${encodeURIComponent(room)}/report.json`, { headers: auth });
    const body = await resp.json();
    if (!resp.ok) {
      banner(`${body.error.message} (${body.error.code})`);
      return resp.status !== 404; // no figures yet: keep trying while the show may start
    }
    banner("");
    render(body.report);
    return !body.report.final;
  } catch (err) {
    banner(`could not load the report: ${err}`);
    return true;
  }
}

/** Save the room's events: the server streams them, the page hands them to the browser. */
async function download(kind) {
  const resp = await fetch(`/rooms/${encodeURIComponent(room)}/export.${kind}`, { headers: auth });
  if (!resp.ok) {
    banner(`export failed: ${(await resp.json()).error.message}`);
    return;
  }
  const link = h("a", { href: URL.createObjectURL(await resp.blob()), download: `${room}-events.${kind}` });
  document.body.append(link);
  link.click();
  link.remove();
}

$("export-csv").addEventListener("click", () => download("csv"));
$("export-ndjson").addEventListener("click", () => download("ndjson"));

async function loop() {
  if (await load()) setTimeout(loop, REFRESH_MS);
}
loop();
