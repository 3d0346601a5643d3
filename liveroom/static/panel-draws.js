// Lucky draws in the host panel: start one, watch entrants come in, close or cancel it,
// and see the winners with the revealed seed anyone can verify.
import { h, countdown } from "/static/liveroom.js";

export function install(ext) {
  const { client, command, onEvent, onState, onWelcome } = ext;
  const list = h("ul", { id: "draw-list", class: "draws" });
  const form = h(
    "form",
    { id: "draw-form" },
    h("div", { class: "row" }, h("input", { name: "prize", placeholder: "Prize, e.g. a full-size serum", maxlength: 100, required: true })),
    h(
      "div",
      { class: "row" },
      h("label", { class: "small" }, "winners ", h("input", { name: "winners", type: "number", min: 1, max: 1000, value: 1 })),
      h("label", { class: "small" }, "runs ", h("input", { name: "duration", type: "number", min: 1, max: 86400, value: 60 }), " s"),
    ),
    h(
      "div",
      { class: "row" },
      h("select", { name: "mode" }, h("option", { value: "button" }, "tap to enter"), h("option", { value: "phrase" }, "comment a pass phrase")),
      h("input", { name: "phrase", placeholder: "pass phrase", maxlength: 50, class: "hidden" }),
    ),
    h(
      "div",
      { class: "row" },
      h("label", { class: "small" }, h("input", { name: "members", type: "checkbox" }), " members only"),
      h("label", { class: "small" }, "watched ≥ ", h("input", { name: "watch", type: "number", min: 0, max: 86400, value: 0 }), " s"),
    ),
    h("div", { class: "row" }, h("button", { class: "primary" }, "Start draw")),
  );
  form.mode.addEventListener("change", () => {
    form.phrase.classList.toggle("hidden", form.mode.value !== "phrase");
    form.phrase.required = form.mode.value === "phrase";
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const frame = {
      t: "start_draw",
      prize: { title: form.prize.value.trim() },
      winners: parseInt(form.winners.value, 10) || 1,
      duration_s: parseInt(form.duration.value, 10) || 60,
      mode: form.mode.value,
      eligibility: { members_only: form.members.checked, min_watch_s: parseInt(form.watch.value, 10) || 0 },
    };
    if (frame.mode === "phrase") frame.phrase = form.phrase.value.trim();
    if (await command(frame, `start draw "${frame.prize.title}"`)) form.prize.value = "";
  });
  document.getElementById("extras").append(h("div", { class: "card", id: "draws-card" }, h("h2", {}, "Lucky draw"), form, list));

  const row = (id) => list.querySelector(`li[data-draw-id="${CSS.escape(id)}"]`);

  function showOpen(d) {
    if (row(d.draw_id)) return;
    const rules = [d.mode === "phrase" ? `comment "${d.phrase}"` : "tap to enter"];
    if (d.eligibility?.members_only) rules.push("members only");
    if (d.eligibility?.min_watch_s) rules.push(`watched ≥ ${d.eligibility.min_watch_s}s`);
    const li = h(
      "li",
      { "data-draw-id": d.draw_id, class: "draw open" },
      h("div", {}, h("b", {}, `🎁 ${d.prize.title}`), " ", h("span", { class: "badge live state" }, "open")),
      h("div", { class: "small muted" }, `${d.winners_count} winner(s) · ${rules.join(" · ")}`),
      h("div", { class: "small" }, h("b", { class: "entrants" }, d.entrants ?? 0), " entered", h("span", { class: "left", "data-ends": d.ends_at }, "")),
      h(
        "div",
        { class: "row actions" },
        h("button", { class: "close-draw", onclick: () => command({ t: "close_draw", draw_id: d.draw_id }, "close draw") }, "Draw winners now"),
        h("button", { class: "cancel-draw danger", onclick: () => confirm("Cancel this draw? Nobody wins.") && command({ t: "cancel_draw", draw_id: d.draw_id }, "cancel draw") }, "Cancel"),
      ),
    );
    list.prepend(li);
    tick();
  }

  function showResult(e, cancelled) {
    showOpen({ ...e, entrants: e.entrants_count, ends_at: 0 });
    const li = row(e.draw_id);
    li.className = `draw ${cancelled ? "cancelled" : "closed"}`;
    li.querySelector(".state").textContent = cancelled ? "cancelled" : "closed";
    li.querySelector(".state").className = "badge state";
    li.querySelector(".entrants").textContent = e.entrants_count;
    li.querySelector(".left").remove();
    li.querySelector(".actions").remove();
    const winners = (e.winners || []).map((w) => `${w.nick || w.uid} (${w.uid})`).join(", ");
    li.append(
      h("div", { class: "winners" }, cancelled ? "No winners: cancelled." : `🎉 Winners: ${winners || "nobody entered"}`),
      h(
        "div",
        { class: "small muted" },
        "seed revealed · ",
        h("a", { href: `/api/draws/${encodeURIComponent(client.room)}/${encodeURIComponent(e.draw_id)}`, target: "_blank" }, "verify"),
      ),
    );
  }

  function tick() {
    for (const el of list.querySelectorAll("[data-ends]")) el.textContent = ` · ${countdown(+el.dataset.ends, client)}`;
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
