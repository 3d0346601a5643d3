// The shop in the host panel: put products in the room's bag, run flash sales on them
// and watch their stock move live. Products themselves come from the merchant API.
import { CreateName, h, clock, showState } from "/static/liveroom.js";

const $ = (id) => document.getElementById(id);
export const yuan = (fen) => `¥${(fen / 100).toFixed(2)}`;

export function install({ client, command, onEvent, onState, onWelcome }) {
  const products = new Map(); // sku -> product, for labels and sale defaults
  const bag = $("bag");
  const sales = $("sales");
  const form = $("sale-form");
  const saleName = new CreateName(form, "s"); // one sale however often a start goes out

  $("bag-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const sku = ev.target.sku.value.trim();
    if (await command({ t: "pin_product", sku }, `add ${sku} to the bag`)) ev.target.reset();
  });

  // ---- the bag, and the sale form that sells one of its products ----
  function openSaleForm(sku) {
    saleName.reset();
    form.sku.value = sku;
    form.price.value = ((products.get(sku)?.price_fen || 0) / 100).toFixed(2);
    form.classList.remove("hidden");
    form.stock.focus();
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const num = (name) => parseInt(form[name].value, 10) || 0;
    const frame = {
      t: "start_sale",
      sku: form.sku.value,
      stock: num("stock"),
      price_fen: Math.round(parseFloat(form.price.value) * 100),
      limit_per_user: Math.max(1, num("limit")),
      starts_in_s: num("starts_in"),
      early_access_s: num("early"),
      hold_s: Math.max(1, num("hold")),
    };
    if (num("duration")) frame.duration_s = num("duration");
    frame.sale_id = saleName.next();
    const onError = (err) => {
      saleName.answered(err);
      if (err.code === "sale_exists" && err.sale) {
        showSale(err.sale); // a press sent again: the sale began with the first
        form.classList.add("hidden");
      }
    };
    if (await command(frame, `start sale of ${frame.sku}`, { onError })) {
      saleName.answered();
      form.classList.add("hidden");
    }
  });

  function renderBag(skus) {
    const items = skus.map((sku) => products.get(sku) || { sku, title: sku, price_fen: 0 });
    form.sku.replaceChildren(...items.map((p) => h("option", { value: p.sku }, p.title)));
    if (!items.length) form.classList.add("hidden");
    bag.replaceChildren(
      ...items.map((p) =>
        h(
          "li",
          { "data-sku": p.sku },
          h("b", {}, p.title),
          h("span", { class: "muted small" }, ` ${yuan(p.price_fen)} · ${p.sku}`),
          h(
            "div",
            { class: "row" },
            h("button", { class: "new-sale", onclick: () => openSaleForm(p.sku) }, "Flash sale…"),
            h("button", { class: "unpin-product", onclick: () => unpin(p.sku) }, "Remove"),
          ),
        ),
      ),
    );
  }

  const unpin = (sku) => command({ t: "unpin_product", sku }, `remove ${sku}`);

  // ---- sales and their stock ----
  const saleRow = (id) => sales.querySelector(`li[data-sale-id="${CSS.escape(id)}"]`);

  function setStatus(li, status) {
    li.dataset.status = status;
    showState(li.querySelector(".state"), status);
    li.querySelector(".end-sale").disabled = status === "ended";
    tick();
  }

  function setAvailable(li, available) {
    li.querySelector(".available").textContent = available;
    li.querySelector(".meter > span").style.width = `${(100 * available) / li.dataset.stock}%`;
  }

  function showSale(s) {
    let li = saleRow(s.sale_id);
    if (!li) {
      const end = () => command({ t: "end_sale", sale_id: s.sale_id }, `end sale of ${s.title}`);
      li = h(
        "li",
        { "data-sale-id": s.sale_id, "data-stock": s.stock, "data-starts": s.starts_at },
        h("b", {}, s.title),
        " ",
        h("span", { class: "badge state" }),
        h("span", { class: "small muted starts" }),
        h(
          "div",
          { class: "small" },
          h("b", { class: "available" }),
          ` of ${s.stock} left · ${yuan(s.price_fen)} · ${s.limit_per_user} per user`,
        ),
        h("div", { class: "meter" }, h("span")),
        h("div", { class: "row" }, h("button", { class: "end-sale danger", onclick: end }, "End sale")),
      );
      sales.prepend(li);
    }
    setStatus(li, s.status);
    setAvailable(li, s.available);
  }

  function tick() {
    for (const li of sales.querySelectorAll("li")) {
      const scheduled = li.dataset.status === "scheduled";
      const starts = scheduled ? ` starts in ${clock(+li.dataset.starts, client)}` : "";
      li.querySelector(".starts").textContent = starts;
    }
  }
  setInterval(tick, 1000);

  const withRow = (fn) => (e) => saleRow(e.sale_id) && fn(saleRow(e.sale_id));
  onEvent.product_pinned = (e) => {
    products.set(e.product.sku, e.product);
    renderBag(e.bag);
  };
  onEvent.product_unpinned = (e) => renderBag(e.bag);
  onEvent.sale = (e) => showSale(e.sale);
  onEvent.sale_started = withRow((li) => setStatus(li, "live"));
  onEvent.sale_ended = withRow((li) => setStatus(li, "ended"));
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
