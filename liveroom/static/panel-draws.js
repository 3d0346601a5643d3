// Lucky draws in the host panel: start one, watch entrants come in, close or cancel it,
// and see the winners with the revealed seed anyone can verify.
import { CreateName, h, countdown, showState } from "/static/liveroom.js";

const $ = (id) => document.getElementById(id);

export function install({ client, command, onEvent, onState, onWelcome }) {
  const form = $("draw-form");
  const list = $("draw-list");

  form.mode.addEventListener("change", () => {
    const phrase = form.mode.value === "phrase";
    form.phrase.classList.toggle("hidden", !phrase);
    form.phrase.required = phrase;
  });
  form.bag.addEventListener("change", () => {
    const bag = form.bag.value;
    form.bag_of.classList.toggle("hidden", !bag);
    form.bag_of.required = Boolean(bag);
    form.bag_of.placeholder = bag === "product" ? "product SKU" : "coupon template id";
  });
  const drawName = new CreateName(form, "d"); // one draw however often a start goes out

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const num = (name, fallback) => parseInt(form[name].value, 10) || fallback;
    const frame = {
      t: "start_draw",
      draw_id: drawName.next(),
      prize: { title: form.prize.value.trim() },
      winners: num("winners", 1),
      duration_s: num("duration", 60),
      mode: form.mode.value,
      eligibility: { members_only: form.members.checked, min_watch_s: num("watch", 0) },
    };
    if (frame.mode === "phrase") frame.phrase = form.phrase.value.trim();
    const bag = form.bag.value;
    if (bag) Object.assign(frame.prize, { kind: bag, [bag === "coupon" ? "template_id" : "sku"]: form.bag_of.value.trim() });
    const onError = (err) => {
      drawName.answered(err);
      if (err.code === "draw_exists" && err.draw?.state === "open") {
        showOpen(err.draw); // a press sent again: the draw began with the first
        form.prize.value = "";
      }
    };
    if (await command(frame, `start draw "${frame.prize.title}"`, { onError })) {
      drawName.answered();
      form.prize.value = "";
    }
  });

  const row = (id) => list.querySelector(`li[data-draw-id="${CSS.escape(id)}"]`);

  function terms(d) {
    const entry = d.mode === "phrase" ? `comment "${d.phrase}"` : "tap to enter";
    const out = [`${d.winners_count} winner(s)`, entry];
    if (d.prize.kind === "coupon") out.push(`lucky bag: coupon ${d.prize.template_id}`);
    if (d.prize.kind === "product") out.push(`lucky bag: ${d.prize.sku} free`);
    if (d.eligibility?.members_only) out.push("members only");
    if (d.eligibility?.min_watch_s) out.push(`watched ≥ ${d.eligibility.min_watch_s}s`);
    return out.join(" · ");
  }

  function showOpen(d) {
    if (row(d.draw_id)) return;
    const close = () => command({ t: "close_draw", draw_id: d.draw_id }, "close draw");
    const cancel = () => {
      if (confirm("Cancel this draw? Nobody wins.")) command({ t: "cancel_draw", draw_id: d.draw_id }, "cancel draw");
    };
    list.prepend(
      h(
        "li",
        { "data-draw-id": d.draw_id },
        h("b", {}, `🎁 ${d.prize.title}`),
        " ",
        h("span", { class: "badge live state" }, "open"),
        h("div", { class: "small muted" }, terms(d)),
        h(
          "div",
          { class: "small" },
          h("b", { class: "entrants" }, d.entrants ?? 0),
          " entered",
          h("span", { class: "left", "data-ends": d.ends_at }),
        ),
        h(
          "div",
          { class: "row actions" },
          h("button", { class: "close-draw", onclick: close }, "Draw winners now"),
          h("button", { class: "cancel-draw danger", onclick: cancel }, "Cancel"),
        ),
      ),
    );
    tick();
  }

  function showResult(e, cancelled) {
    showOpen({ ...e, entrants: e.entrants_count, ends_at: 0 });
    const li = row(e.draw_id);
    showState(li.querySelector(".state"), cancelled ? "cancelled" : "closed");
    li.querySelector(".entrants").textContent = e.entrants_count;
    li.querySelector(".left").remove();
    li.querySelector(".actions").remove();
    const winners = (e.winners || []).map((w) => `${w.nick || w.uid} (${w.uid})`).join(", ");
    const record = `/api/draws/${encodeURIComponent(client.room)}/${encodeURIComponent(e.draw_id)}`;
    const outcome = cancelled ? "No winners: cancelled." : `🎉 Winners: ${winners || "nobody entered"}`;
    li.append(
      h("div", { class: "winners" }, outcome),
      h("div", { class: "small muted" }, "seed revealed · ", h("a", { href: record, target: "_blank" }, "verify")),
    );
  }

  function tick() {
    for (const el of list.querySelectorAll("[data-ends]")) {
      el.textContent = ` · ${countdown(+el.dataset.ends, client)}`;
    }
  }
  setInterval(tick, 1000);

  onEvent.draw_started = showOpen;
  onEvent.draw_closed = (e) => showResult(e, false);
  onEvent.draw_cancelled = (e) => showResult(e, true);
  onState.push((s) => {
    for (const [id, n] of Object.entries(s.draw || {})) {
      const el = row(id)?.querySelector(".entrants");
      if (el) el.textContent = n;
    }
  });
  onWelcome.push((w) => {
    if (w.recovered !== true) list.replaceChildren();
    for (const d of w.draws || []) showOpen(d);
  });
}
