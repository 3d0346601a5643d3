// Flash sales on the viewer page: live stock, a Grab button, and the hand-off to the
// mini-program checkout with the signed ticket the server returns for a reservation.
import { h, clock, openInMiniProgram } from "/static/liveroom.js";

const yuan = (fen) => `¥${(fen / 100).toFixed(2)}`;
const REFUSED = {
  sold_out: "Sold out!",
  over_limit: "You already have the most you can buy",
  not_started: "Not started yet",
  members_only: "Members only for now",
  ended: "This sale has ended",
  login_required: "Sign in to buy",
};

export function install(ext) {
  const { client, onEvent, onState, onWelcome, toast } = ext;
  const box = h("div", { id: "sales" });
  const bag = h("div", { id: "bag", class: "bag" });
  document.getElementById("extras").prepend(box);
  document.getElementById("comments").before(bag);
  let me = null;

  const card = (id) => box.querySelector(`[data-sale-id="${CSS.escape(id)}"]`);

  const checkout = (co) => openInMiniProgram(co.path, toast);

  const newRequestId = () => `g-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

  async function grab(s, requestId = newRequestId(), tries = 3) {
    const c = card(s.sale_id);
    const button = c.querySelector("button.grab");
    button.disabled = true;
    try {
      const ack = await client.request({ t: "grab", sale_id: s.sale_id, qty: 1, request_id: requestId });
      if (!ack.duplicate) c.held = (c.held || 0) + ack.hold.qty;
      showReserved(c, ack);
    } catch (err) {
      // the same request id is safe to retry: the server answers it once
      if ((err.code === "unavailable" || err.code === "disconnected" || err.code === "offline") && tries > 1) {
        setTimeout(() => grab(s, requestId, tries - 1), 1000 * (err.retry_after || 1));
        return;
      }
      toast(REFUSED[err.code] || err.message);
    }
    refresh(c);
  }

  function showReserved(c, { hold, checkout: co }) {
    const pay = h("button", { class: "pay", onclick: () => checkout(co) }, "Pay now");
    c.querySelector(".mine").replaceChildren(
      h("span", {}, "Reserved ✓ pay within "),
      h("b", { "data-ends": hold.expires_at }, clock(hold.expires_at, client)),
      pay,
    );
  }

  function showPaid(c, orderId) {
    c.paid = true;
    c.querySelector(".mine").replaceChildren(h("span", {}, `Paid ✓ order ${orderId}`));
  }

  function refresh(c) {
    const s = c.sale;
    const now = Date.now() + (client.skew || 0);
    const earlyFor = s.early_access_s && me && s.member_tiers.includes(me.tier);
    const opensAt = s.starts_at - (earlyFor ? s.early_access_s * 1000 : 0);
    const button = c.querySelector("button.grab");
    c.querySelector(".left").textContent = s.available > 0 ? `${s.available} left` : "sold out";
    c.querySelector(".meter > span").style.width = `${(100 * s.available) / s.stock}%`;
    let label = "Grab it";
    if (s.status === "ended") label = "Ended";
    else if ((c.held || 0) >= s.limit_per_user) label = c.paid ? "Bought ✓" : "Reserved";
    else if (s.available <= 0) label = "Sold out";
    else if (now < opensAt) label = `Starts in ${clock(opensAt, client)}`;
    else if (earlyFor && now < s.starts_at) label = "Members: grab early";
    button.textContent = label;
    const open = label === "Grab it" || label === "Members: grab early";
    button.disabled = !open || !me || me.anonymous || me.role === "host";
  }

  function showSale(s) {
    let c = card(s.sale_id);
    if (!c) {
      c = h(
        "div",
        { class: "draw-card sale-card", "data-sale-id": s.sale_id },
        h("div", { class: "prize" }, `⚡ ${s.title}`),
        h(
          "div",
          { class: "small" },
          h("b", { class: "price" }, yuan(s.price_fen)),
          " · ",
          h("span", { class: "left" }),
          ` · limit ${s.limit_per_user}`,
        ),
        h("div", { class: "meter" }, h("span")),
        h("div", { class: "mine small" }),
        h("button", { class: "grab join", onclick: () => grab(c.sale) }, "Grab it"),
      );
      box.prepend(c);
    }
    c.sale = { ...c.sale, ...s };
    refresh(c);
  }

  function update(id, change) {
    const c = card(id);
    if (!c) return;
    c.sale = { ...c.sale, ...change };
    refresh(c);
  }

  function renderBag(products) {
    // a tap is counted for the merchant's analytics; in the mini-program it opens the product
    const tap = (p) => {
      client.send({ t: "product_click", sku: p.sku });
      toast(`${p.title}: ${yuan(p.price_fen)}`);
    };
    bag.replaceChildren(
      ...products.map((p) =>
        h("button", { class: "product", onclick: () => tap(p) }, `🛍 ${p.title} `, h("b", {}, yuan(p.price_fen))),
      ),
    );
  }
  const products = new Map();

  // The merchant confirmed the payment of a hold: the reservation is an order now.
  client.addEventListener("frame", ({ detail: f }) => {
    const c = f.t === "order_paid" && card(f.sale_id);
    if (!c) return;
    showPaid(c, f.order_id);
    refresh(c);
  });

  onEvent.product_pinned = (e) => {
    products.set(e.product.sku, e.product);
    renderBag(e.bag.map((sku) => products.get(sku)).filter(Boolean));
  };
  onEvent.product_unpinned = (e) => renderBag(e.bag.map((sku) => products.get(sku)).filter(Boolean));
  onEvent.sale = (e) => showSale(e.sale);
  onEvent.sale_started = (e) => update(e.sale_id, { status: "live" });
  onEvent.sale_ended = (e) => update(e.sale_id, { status: "ended" });
  onState.push((s) => {
    for (const [id, n] of Object.entries(s.stock || {})) update(id, { available: n });
  });
  onWelcome.push((w) => {
    me = w.you;
    for (const p of w.bag || []) products.set(p.sku, p);
    renderBag(w.bag || []);
    if (w.recovered !== true) box.replaceChildren();
    // the viewer's own holds and orders (newest first): back from the mini-program's
    // checkout, or after a dropped socket, the card shows what is to pay or was paid
    const mine = w.holds || [];
    const withMine = new Set(mine.map((x) => x.hold.sale_id));
    for (const s of w.sales || []) if (s.status !== "ended" || withMine.has(s.sale_id)) showSale(s);
    if (w.holds) for (const c of box.querySelectorAll(".sale-card")) c.held = 0; // the server's count
    for (const x of [...mine].reverse()) {
      const c = card(x.hold.sale_id);
      if (!c) continue;
      c.held = (c.held || 0) + x.hold.qty;
      if (x.hold.status === "paid") showPaid(c, x.hold.order_id);
      else showReserved(c, x);
      refresh(c);
    }
  });
  setInterval(() => {
    for (const c of box.querySelectorAll(".sale-card")) {
      refresh(c);
      const ends = c.querySelector("[data-ends]");
      if (!ends) continue;
      ends.textContent = clock(+ends.dataset.ends, client);
      if (+ends.dataset.ends <= Date.now() + client.skew) {
        // Unpaid holds return to stock; whether it was paid only the mini-program knows,
        // so say what is certain and let the server judge a new grab.
        c.querySelector(".mine").replaceChildren("Payment window closed.");
        c.held = 0;
        refresh(c);
      }
    }
  }, 1000);
}
