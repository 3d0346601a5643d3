// Live figures in the host panel: the server sends a `figures` frame about once a second
// (viewers, comments and likes per second, clicks, holds, paid orders, sales, conversion,
// per product and per share code); this card shows them with small live charts.
import { h, pageParams } from "/static/liveroom.js";
import { lines } from "/static/charts.js";
import { yuan } from "/static/panel-sales.js";

const $ = (id) => document.getElementById(id);
const KEEP = 300; // samples on the charts: five minutes at one a second

const percent = (x) => `${(100 * x).toFixed(1)}%`;

function sourceName(s) {
  if (s.kind !== "code") return s.channel;
  const who = s.owner ? s.owner.name || s.owner.id : "?";
  return `${who} · ${s.channel || "code"} ${s.ref}`;
}

export function install({ client }) {
  const { room, token } = pageParams();
  $("report-link").href = `/report?room=${encodeURIComponent(room)}&token=${encodeURIComponent(token)}`;
  const viewers = [];
  const cps = [];
  const stock = new Map(); // sale id -> {title, available, points: []}

  const keep = (arr, v) => {
    arr.push(v);
    if (arr.length > KEEP) arr.shift();
  };

  function sale(s) {
    const known = stock.get(s.sale_id);
    if (known) known.available = s.available ?? known.available;
    else stock.set(s.sale_id, { title: s.title || s.sku, available: s.available, points: [] });
  }

  client.addEventListener("welcome", ({ detail: w }) => {
    for (const s of w.sales || []) sale(s);
  });
  client.addEventListener("event", ({ detail: e }) => {
    if (e.type === "sale") sale(e.sale);
  });
  client.addEventListener("state", ({ detail: s }) => {
    for (const [id, n] of Object.entries(s.stock || {})) {
      const known = stock.get(id);
      if (known) known.available = n;
    }
  });
  client.addEventListener("frame", ({ detail: f }) => {
    if (f.t === "figures") render(f);
  });

  function render(f) {
    $("fig-viewers").textContent = f.viewers;
    $("fig-peak").textContent = f.peak;
    $("fig-unique").textContent = f.unique;
    $("fig-cps").textContent = f.comments_per_s;
    $("fig-comments").textContent = f.comments;
    $("fig-lps").textContent = f.likes_per_s;
    $("fig-likes").textContent = f.likes;
    $("fig-clicks").textContent = f.clicks;
    $("fig-holds").textContent = f.holds;
    $("fig-paid").textContent = f.paid;
    $("fig-sales").textContent = yuan(f.paid_fen);
    $("fig-conversion").textContent = percent(f.conversion);
    $("fig-updated").textContent = `updated ${new Date(f.ts).toLocaleTimeString()}`;

    keep(viewers, f.viewers);
    keep(cps, f.comments_per_s);
    for (const s of stock.values()) keep(s.points, s.available ?? null);
    lines($("chart-viewers"), [{ label: "viewers", points: viewers }]);
    lines($("chart-cps"), [{ label: "comments/s", points: cps }], { unit: "/s" });
    const sales = [...stock.values()].filter((s) => s.points.some((v) => v !== null)).slice(-6);
    lines($("chart-stock"), sales.map((s) => ({ label: s.title, points: s.points })));

    $("fig-products").tBodies[0].replaceChildren(
      ...f.products.map((p) =>
        h(
          "tr",
          { "data-sku": p.sku },
          h("td", {}, p.sku),
          h("td", { class: "clicks" }, p.clicks),
          h("td", { class: "holds" }, p.holds),
          h("td", { class: "paid" }, p.paid),
          h("td", {}, yuan(p.paid_fen)),
        ),
      ),
    );
    $("fig-sources").tBodies[0].replaceChildren(
      ...f.sources.map((s, i) =>
        h(
          "tr",
          { "data-key": s.key },
          h("td", { title: s.label || s.key }, `${i + 1}. ${sourceName(s)}`),
          h("td", { class: "joins" }, s.joins),
          h("td", { class: "viewers" }, s.viewers),
          h("td", { class: "holds" }, s.holds),
          h("td", { class: "paid" }, s.paid),
          h("td", {}, yuan(s.paid_fen)),
        ),
      ),
    );
  }
}
