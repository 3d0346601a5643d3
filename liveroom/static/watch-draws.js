// Lucky draws on the viewer page: join (a tap, or commenting the pass phrase), watch the
// countdown, see the winners; a winner gets a private claim ticket for the mini-program.
import { h, countdown, openInMiniProgram } from "/static/liveroom.js";

const REFUSED = {
  not_eligible_member: "This draw is for members only",
  not_eligible_watch_time: "Keep watching a little longer to join",
  draw_closed: "This draw has closed",
  login_required: "Sign in to join draws",
};

export function install(ext) {
  const { client, onEvent, onState, onWelcome, toast } = ext;
  const box = h("div", { id: "draws" });
  document.getElementById("extras").append(box);
  let me = null;

  const card = (id) => box.querySelector(`[data-draw-id="${CSS.escape(id)}"]`);

  function joined(id, n) {
    const c = card(id);
    if (!c) return;
    c.classList.add("entered");
    if (n !== undefined) c.querySelector(".entrants").textContent = n;
    const action = c.querySelector(".join");
    action.replaceWith(h("div", { class: "join done" }, "You're in ✓ good luck!"));
  }

  async function join(id) {
    try {
      const ack = await client.request({ t: "enter_draw", draw_id: id });
      joined(id, ack.entrants);
    } catch (err) {
      toast(REFUSED[err.code] || err.message);
    }
  }

  function showOpen(d) {
    if (card(d.draw_id)) return;
    const guest = !me || me.anonymous || me.role === "host";
    const action =
      d.mode === "phrase"
        ? h("div", { class: "join phrase" }, "Comment ", h("b", {}, `“${d.phrase}”`), " to join")
        : h("button", { class: "join", disabled: guest, onclick: () => join(d.draw_id) }, "Join the draw");
    const terms = d.eligibility?.members_only ? " · members only" : "";
    box.append(
      h(
        "div",
        { class: "draw-card", "data-draw-id": d.draw_id },
        h("div", { class: "prize" }, `🎁 ${d.prize.kind ? "Lucky bag" : "Lucky draw"}: ${d.prize.title}`),
        h(
          "div",
          { class: "small" },
          h("span", { class: "entrants" }, d.entrants ?? 0), " joined · ",
          h("span", { "data-ends": d.ends_at }, countdown(d.ends_at, client)),
          ` · ${d.winners_count} winner${d.winners_count > 1 ? "s" : ""}${terms}`,
        ),
        action,
      ),
    );
  }

  function showResult(e, cancelled) {
    const c = card(e.draw_id);
    if (!c) return;
    const won = !cancelled && me && (e.winners || []).some((w) => w.uid === me.uid);
    const names = (e.winners || []).map((w) => w.nick || "viewer").join(", ");
    let outcome = won ? "🎉 You won!" : `Winners: ${names || "nobody entered"}`;
    if (cancelled) outcome = "This draw was cancelled.";
    c.replaceChildren(
      h("div", { class: "prize" }, `🎁 ${e.prize.title}`),
      h("div", { class: "result" }, outcome),
      h("button", { class: "dismiss", "aria-label": "close", onclick: () => c.remove() }, "×"),
    );
    c.classList.add("done");
    if (won) c.classList.add("won");
    claimButton(e.draw_id);
  }

  // Only winners get this frame, just before or after the room hears the result. A plain
  // prize's ticket opens the mini-program's claim page; a lucky bag has already given its
  // prize: a coupon (in My coupons too) or a free product to check out.
  const won = new Map(); // draw id -> draw_won frame
  function claimButton(id) {
    const c = card(id);
    const f = won.get(id);
    if (!c || !f || !c.classList.contains("done") || c.querySelector(".claim, .prize-note")) return;
    const open = (path) => () => openInMiniProgram(path, toast);
    const note = (text) => c.append(h("div", { class: "prize-note small" }, text));
    const kind = f.prize?.kind;
    if (f.prize_error) {
      note("Your prize could not be set aside: the host will hand it over");
    } else if (f.coupon) {
      note(`🎟 ${f.coupon.title} is in My coupons`);
      c.append(h("button", { class: "claim", onclick: open(f.coupon_ticket.path) }, "Use your coupon"));
    } else if (kind === "coupon") {
      note("🎟 Your coupon is in My coupons"); // a later welcome: the coupon came with it
    } else if (f.checkout) {
      c.append(h("button", { class: "claim", onclick: open(f.checkout.path) }, "Get it free: check out"));
    } else if (kind === "product") {
      note("The free checkout of this prize has closed");
    } else {
      c.append(h("button", { class: "claim", onclick: open(f.claim.path) }, "Claim your prize"));
    }
  }

  client.addEventListener("frame", ({ detail: f }) => {
    if (f.t === "draw_won") {
      won.set(f.draw_id, f);
      claimButton(f.draw_id);
    } else if (f.t === "draw_entry") {
      if (f.entered) joined(f.draw_id, f.entrants);
      else toast(REFUSED[f.code] || f.message);
    }
  });

  onEvent.draw_started = showOpen;
  onEvent.draw_closed = (e) => showResult(e, false);
  onEvent.draw_cancelled = (e) => showResult(e, true);
  onState.push((s) => {
    for (const [id, n] of Object.entries(s.draw || {})) {
      const el = card(id)?.querySelector(".entrants");
      if (el) el.textContent = n;
    }
  });
  onWelcome.push((w) => {
    me = w.you;
    if (w.recovered !== true) box.replaceChildren();
    for (const d of w.draws || []) showOpen(d);
    // Draws this viewer won while away (or before a reload): the prize is still theirs.
    for (const f of w.draws_won || []) {
      if (card(f.draw_id)) continue;
      box.append(
        h(
          "div",
          { class: "draw-card done won", "data-draw-id": f.draw_id },
          h("div", { class: "prize" }, `🎁 ${f.prize.title}`),
          h("div", { class: "result" }, "🎉 You won!"),
          h("button", { class: "dismiss", "aria-label": "close", onclick: (ev) => ev.target.parentElement.remove() }, "×"),
        ),
      );
      won.set(f.draw_id, f);
      claimButton(f.draw_id);
    }
  });
  setInterval(() => {
    for (const el of box.querySelectorAll("[data-ends]")) {
      el.textContent = countdown(+el.dataset.ends, client);
    }
  }, 1000);
}
