// The shop in the host panel: put products in the room's bag, run flash sales on them
// and watch their stock move live. Products themselves come from the merchant API.
import { h, clock } from "/static/liveroom.js";

export const yuan = (fen) => `¥${(fen / 100).toFixed(2)}`;

export function install(ext) {
  const { client, command, onEvent, onState, onWelcome } = ext;
  const products = new Map(); // sku -> product, for sale defaults
  const bag = h("ul", { id: "bag", class: "draws" });
  const sales = h("ul", { id: "sales", class: "draws" });
  const add = h(
    "form",
    { id: "bag-form", class: "row" },
    h("input", { name: "sku", placeholder: "product SKU", title: "a SKU from the merchant catalogue", maxlength: 64, required: true }),
    h("button", { class: "primary" }, "Add to bag"),
  );
  add.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const sku = add.sku.value.trim();
    if (await command({ t: "pin_product", sku }, `add ${sku} to the bag`)) add.reset();
  });
  document.getElementById("extras").prepend(
    h("div", { class: "card", id: "shop-card" }, h("h2", {}, "Shop"), add, bag, h("h2", { class: "sub" }, "Flash sales"), sales),
  );

  // ---- the bag ----
  function saleForm(p) {
    const field = (label, name, value, attrs = {}) =>
      h("label", { class: "small" }, `${label} `, h("input", { name, type: "number", value, min: 0, ...attrs }));
    const form = h(
      "form",
      { class: "sale-form hidden" },
      h(
        "div",
        { class: "row" },
        field("stock", "stock", 100, { min: 1, required: true }),
        field("price ¥", "price", (p.price_fen / 100).toFixed(2), { step: "0.01" }),
        field("per user", "limit", 1, { min: 1 }),
      ),
      h(
        "div",
        { class: "row" },
        field("starts in (s)", "starts_in", 0),
        field("runs (s, 0 = until ended)", "duration", 0),
      ),
      h("div", { class: "row" }, field("members early (s)", "early", 0), field("pay within (s)", "hold", 300, { min: 1 })),
      h("div", { class: "row" }, h("button", { class: "primary" }, "Start flash sale")),
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const num = (name) => parseInt(form[name].value, 10) || 0;
      const frame = {
        t: "start_sale",
        sku: p.sku,
        stock: num("stock"),
        price_fen: Math.round(parseFloat(form.price.value) * 100),
        limit_per_user: Math.max(1, num("limit")),
        starts_in_s: num("starts_in"),
        early_access_s: num("early"),
        hold_s: Math.max(1, num("hold")),
      };
      if (num("duration")) frame.duration_s = num("duration");
      if (await command(frame, `start sale of ${p.title}`)) form.classList.add("hidden");
    });
    return form;
  }

  function renderBag(skus) {
    bag.replaceChildren(
      ...skus.map((sku) => {
        const p = products.get(sku) || { sku, title: sku, price_fen: 0 };
        const form = saleForm(p);
        return h(
          "li",
          { "data-sku": sku },
          h("div", {}, h("b", {}, p.title), " ", h("span", { class: "muted small" }, `${yuan(p.price_fen)} · ${sku}`)),
          h(
            "div",
            { class: "row" },
            h("button", { class: "new-sale", onclick: () => form.classList.toggle("hidden") }, "Flash sale…"),
            h("button", { class: "unpin-product", onclick: () => command({ t: "unpin_product", sku }, `remove ${sku}`) }, "Remove"),
          ),
          form,
        );
      }),
    );
  }

  // ---- sales and their stock ----
  const saleRow = (id) => sales.querySelector(`li[data-sale-id="${CSS.escape(id)}"]`);

  function setStatus(li, status) {
    li.dataset.status = status;
    const badge = li.querySelector(".state");
    badge.textContent = status;
    badge.className = `badge state ${status === "live" ? "live" : ""}`;
    li.querySelector(".end-sale").disabled = status === "ended";
  }

  function setAvailable(li, available) {
    const stock = +li.dataset.stock;
    li.querySelector(".available").textContent = available;
    li.querySelector(".meter > span").style.width = `${(100 * available) / stock}%`;
  }

  function showSale(s) {
    let li = saleRow(s.sale_id);
    if (!li) {
      li = h(
        "li",
        { "data-sale-id": s.sale_id, "data-stock": s.stock, "data-starts": s.starts_at },
        h("div", {}, h("b", {}, s.title), " ", h("span", { class: "badge state" }, ""), " ", h("span", { class: "small muted starts" })),
        h("div", { class: "small" }, h("b", { class: "available" }, ""), ` of ${s.stock} left · ${yuan(s.price_fen)} · ${s.limit_per_user} per user`),
        h("div", { class: "meter" }, h("span")),
        h("div", { class: "row" }, h("button", { class: "end-sale danger", onclick: () => command({ t: "end_sale", sale_id: s.sale_id }, `end sale of ${s.title}`) }, "End sale")),
      );
      sales.prepend(li);
    }
    setStatus(li, s.status);
    setAvailable(li, s.available);
    tick();
  }

  function tick() {
    for (const li of sales.querySelectorAll('li[data-status="scheduled"]')) {
      li.querySelector(".starts").textContent = `starts in ${clock(+li.dataset.starts, client)}`;
    }
    for (const li of sales.querySelectorAll('li:not([data-status="scheduled"]) .starts')) li.textContent = "";
  }
  setInterval(tick, 1000);

  onEvent.product_pinned = (e) => {
    products.set(e.product.sku, e.product);
    renderBag(e.bag);
  };
  onEvent.product_unpinned = (e) => renderBag(e.bag);
  onEvent.sale = (e) => showSale(e.sale);
  onEvent.sale_started = (e) => saleRow(e.sale_id) && setStatus(saleRow(e.sale_id), "live");
  onEvent.sale_ended = (e) => saleRow(e.sale_id) && setStatus(saleRow(e.sale_id), "ended");
  onState.push((s) => {
    for (const [id, n] of Object.entries(s.stock || {})) if (saleRow(id)) setAvailable(saleRow(id), n);
  });
  onWelcome.push((w) => {
    for (const p of w.bag || []) products.set(p.sku, p);
    renderBag((w.bag || []).map((p) => p.sku));
    if (w.recovered !== true) sales.replaceChildren();
    for (const s of w.sales || []) showSale(s);
  });
}
