// Coupon drops on the viewer page: the drop card with its live remaining count and
// countdown, claiming (a tap, or commenting the pass phrase), the viewer's coupons with
// their mini-program hand-off, the "order paid" confirmation and the room's purchases.
import { h, clock, openInMiniProgram } from "/static/liveroom.js";
import { REFUSED, purchaseWords, terms, yuan } from "/static/coupon-words.js";

const $ = (id) => document.getElementById(id);
const MEMBER_TIERS = ["member", "vip"]; // the sales' default members, for early access
const RETRYABLE = new Set(["unavailable", "disconnected", "offline"]);
const TICKER_MS = 5000;
const CLAIM_TRIES = 20; // through a blip of the store of up to about half a minute
const ORDER_TOAST_MS = 8000;

export function install(ext) {
  const { client, onEvent, onState, onWelcome, toast } = ext;
  const box = h("div", { id: "drops" });
  $("extras").prepend(box);
  let me = null;
  const mine = new Map(); // coupon_id -> {coupon, ticket}

  const guest = () => !me || me.anonymous || me.role === "host";
  const card = (id) => box.querySelector(`[data-drop-id="${CSS.escape(id)}"]`);
  const now = () => Date.now() + (client.skew || 0);
  const newRequestId = () => `c-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

  const openPath = (path) => openInMiniProgram(path, toast);

  // ---- my coupons: a wallet button in the top bar opens the list ----
  const count = h("span", { class: "n" }, "0");
  const wallet = h("button", { id: "wallet", class: "pill wallet hidden", type: "button", "aria-label": "my coupons" }, "🎟 ", count);
  const sheetList = h("ul", { class: "coupon-list" });
  const sheet = h(
    "div",
    { id: "my-coupons", class: "coupon-sheet hidden", role: "dialog", "aria-label": "My coupons" },
    h(
      "div",
      { class: "sheet-head" },
      h("b", {}, "My coupons"),
      h("button", { class: "dismiss", "aria-label": "close", onclick: () => sheet.classList.add("hidden") }, "×"),
    ),
    sheetList,
  );
  wallet.addEventListener("click", () => sheet.classList.toggle("hidden"));
  $("viewers").parentElement.before(wallet);
  document.querySelector(".stage").append(sheet);

  function couponItem({ coupon: c, ticket }) {
    const status = { issued: "", redeemed: "used", expired: "expired" }[c.status] ?? c.status;
    const use = c.status === "issued" && ticket?.path;
    return h(
      "li",
      { "data-coupon-id": c.coupon_id, class: c.status === "issued" ? "" : "spent" },
      h("div", { class: "coupon-title" }, h("b", {}, c.title), status ? h("span", { class: "badge" }, status) : null),
      h("div", { class: "small" }, terms(c)),
      use
        ? h(
            "div",
            { class: "row" },
            h("code", { class: "path small", title: "the mini-program page this coupon opens" }, `/${ticket.path.replace(/^\//, "")}`),
            h("button", { class: "use", onclick: () => openPath(ticket.path) }, "Use"),
          )
        : null,
    );
  }

  function renderWallet() {
    const all = [...mine.values()].sort((a, b) => (b.coupon.issued_at || 0) - (a.coupon.issued_at || 0));
    sheetList.replaceChildren(...all.map(couponItem));
    const usable = all.filter((x) => x.coupon.status === "issued").length;
    count.textContent = usable;
    wallet.classList.toggle("hidden", all.length === 0);
    for (const c of box.querySelectorAll(".drop-card")) refresh(c);
  }

  function addCoupon(entry, announce) {
    const known = mine.has(entry.coupon.coupon_id);
    mine.set(entry.coupon.coupon_id, entry);
    renderWallet();
    if (announce && !known) {
      toast(`🎟 ${entry.coupon.title}: it's in My coupons`);
      wallet.classList.remove("pulse");
      void wallet.offsetWidth; // restart the animation
      wallet.classList.add("pulse");
    }
  }

  const claimedFrom = (dropId) => [...mine.values()].filter((x) => x.coupon.drop_id === dropId).length;

  // ---- the drop card ----
  async function claim(c, requestId = newRequestId(), tries = CLAIM_TRIES) {
    const d = c.drop;
    c.busy = true;
    refresh(c);
    try {
      const ack = await client.request({ t: "claim", drop_id: d.drop_id, request_id: requestId });
      addCoupon({ coupon: ack.coupon, ticket: ack.ticket }, true);
    } catch (err) {
      // the same request id is safe to resend: the server answers it once
      if (RETRYABLE.has(err.code) && tries > 1) {
        const wait = Math.min(5, err.retry_after || 1);
        setTimeout(() => claim(c, requestId, tries - 1), 1000 * wait);
        return;
      }
      if (err.code === "sold_out") c.drop = { ...c.drop, remaining: 0 };
      if (err.code === "ended") c.drop = { ...c.drop, status: "ended" };
      toast(REFUSED[err.code] || err.message);
    }
    c.busy = false;
    refresh(c);
  }

  function putPhrase(phrase) {
    const input = $("text");
    input.value = phrase;
    input.focus();
  }

  /** Where a drop stands for this viewer right now: scheduled, early, live, ended. */
  function phase(d) {
    const t = now();
    const earlyFor = d.early_access_s > 0 && me && (d.member_tiers || MEMBER_TIERS).includes(me.tier);
    if (d.status === "ended" || (d.ends_at && t >= d.ends_at)) return { name: "ended" };
    if (t < d.starts_at) {
      const opensAt = d.starts_at - (earlyFor ? d.early_access_s * 1000 : 0);
      return t < opensAt ? { name: "scheduled", opensAt } : { name: "early" };
    }
    return { name: "live" };
  }

  /** Replace an element's children only when what they show changed (a click is never lost). */
  function redraw(el, key, children) {
    if (el.dataset.key === key) return;
    el.dataset.key = key;
    el.replaceChildren(...children().filter(Boolean));
  }

  function refresh(c) {
    const d = c.drop;
    const p = phase(d);
    const left = Math.max(0, d.remaining ?? d.count);
    c.querySelector(".left").textContent = left > 0 ? `${left} of ${d.count} left` : "all claimed";
    c.querySelector(".meter > span").style.width = `${(100 * left) / d.count}%`;
    let when = "";
    if (p.name === "scheduled") when = `starts in ${clock(p.opensAt, client)}`;
    else if (p.name === "early") when = `members first · everyone in ${clock(d.starts_at, client)}`;
    else if (p.name === "live" && d.ends_at) when = `${clock(d.ends_at, client)} left`;
    else if (p.name === "ended") when = "ended";
    c.querySelector(".when").textContent = when;
    c.classList.toggle("done", p.name === "ended");

    const got = claimedFrom(d.drop_id);
    redraw(c.querySelector(".mine"), `${got}`, () =>
      got ? [h("span", {}, `Claimed ✓ ${got > 1 ? `×${got} ` : ""}in `), h("a", { href: "#", class: "open-wallet" }, "My coupons")] : [],
    );
    const full = got >= (d.limit_per_user || 1);
    const action = c.querySelector(".action");
    if (d.phrase) {
      const open = (p.name === "live" || p.name === "early") && !full && left > 0;
      redraw(action, `${open} ${guest()}`, () => [
        h("div", { class: "join phrase" }, "Comment ", h("b", {}, `«${d.phrase}»`), " to get it"),
        open ? h("button", { class: "say-phrase", disabled: guest(), onclick: () => putPhrase(d.phrase) }, "Put it in my comment") : null,
      ]);
      return;
    }
    let label = "Claim";
    if (p.name === "ended") label = "Ended";
    else if (full) label = "Claimed ✓";
    else if (left <= 0) label = "All claimed";
    else if (p.name === "scheduled") label = `Starts in ${clock(p.opensAt, client)}`;
    else if (p.name === "early") label = "Members: claim early";
    else if (c.busy) label = "Claiming…";
    let button = action.querySelector("button.claim");
    if (!button) {
      button = h("button", { class: "claim join", onclick: () => claim(c) });
      action.replaceChildren(button);
    }
    button.textContent = label;
    const open = label === "Claim" || label === "Members: claim early";
    button.disabled = !open || c.busy || guest();
  }

  function showDrop(d) {
    let c = card(d.drop_id);
    if (!c) {
      c = h(
        "div",
        { class: "draw-card drop-card", "data-drop-id": d.drop_id },
        h("div", { class: "prize" }, `🎟 ${d.title}`),
        h("div", { class: "small terms" }),
        h("div", { class: "meter" }, h("span")),
        h("div", { class: "small" }, h("b", { class: "left" }), " · ", h("span", { class: "when" }), ` · ${d.limit_per_user || 1} per viewer`),
        h("div", { class: "mine small" }),
        h("div", { class: "action" }),
      );
      c.addEventListener("click", (ev) => {
        if (!ev.target.closest(".open-wallet")) return;
        ev.preventDefault();
        sheet.classList.remove("hidden");
      });
      box.prepend(c);
    }
    c.drop = { ...c.drop, ...d };
    c.querySelector(".terms").textContent = terms(c.drop.coupon || {});
    refresh(c);
  }

  function update(id, change) {
    const c = card(id);
    if (!c) return;
    c.drop = { ...c.drop, ...change };
    refresh(c);
  }

  // ---- a payment confirmed by the merchant: this viewer's order ----
  const orderToast = h("div", { id: "order-toast", class: "order-toast hidden", role: "status" });
  $("extras").prepend(orderToast); // in the flow, above the drops: it covers nothing
  let orderTimer = 0;
  function orderPaid(f) {
    orderToast.replaceChildren(
      h("b", {}, "✅ Order paid"),
      h("div", {}, `${f.title}${f.qty > 1 ? ` × ${f.qty}` : ""} · ${yuan(f.total_fen)}`),
      h("div", { class: "small" }, `order ${f.order_id}`),
    );
    orderToast.classList.remove("hidden");
    clearTimeout(orderTimer);
    orderTimer = setTimeout(() => orderToast.classList.add("hidden"), ORDER_TOAST_MS);
  }
  orderToast.addEventListener("click", () => orderToast.classList.add("hidden"));

  // ---- social proof: who just bought what, one line at a time ----
  const ticker = h("div", { id: "ticker", class: "ticker hidden", "aria-live": "polite" });
  $("comments").before(ticker);
  let tickerTimer = 0;
  function purchase(e) {
    ticker.textContent = `🛍 ${purchaseWords(e)}`;
    ticker.classList.remove("hidden", "slide");
    void ticker.offsetWidth;
    ticker.classList.add("slide");
    clearTimeout(tickerTimer);
    tickerTimer = setTimeout(() => ticker.classList.add("hidden"), TICKER_MS);
  }

  client.addEventListener("frame", ({ detail: f }) => {
    if (f.t === "coupon") addCoupon({ coupon: f.coupon, ticket: f.ticket }, true);
    else if (f.t === "coupon_refused") toast(REFUSED[f.code] || `No coupon: ${f.code}`);
    else if (f.t === "order_paid") orderPaid(f);
  });
  onEvent.drop = (e) => showDrop(e.drop);
  onEvent.drop_ended = (e) => update(e.drop_id, { status: "ended" });
  onEvent.purchase = purchase;
  onState.push((s) => {
    for (const [id, n] of Object.entries(s.drops || {})) update(id, { remaining: n });
  });
  onWelcome.push((w) => {
    me = w.you;
    if (w.recovered !== true) {
      box.replaceChildren();
      mine.clear();
    }
    for (const x of w.coupons || []) mine.set(x.coupon.coupon_id, x);
    for (const d of w.drops || []) if (d.status !== "ended") showDrop(d);
    renderWallet();
  });
  setInterval(() => {
    for (const c of box.querySelectorAll(".drop-card")) refresh(c);
  }, 1000);
}
