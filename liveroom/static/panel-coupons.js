// Coupon drops in the host panel: drop a batch from a template the merchant defined, watch
// it being claimed live, stop it; and choose how purchases are shown to the room.
import { CreateName, h, clock, showState, timeOf } from "/static/liveroom.js";
import { purchaseWords, terms } from "/static/coupon-words.js";

const $ = (id) => document.getElementById(id);
const CLAIMS_EVERY_MS = 1000;
const PROOF = { masked: "masked names", full: "full names", off: "off" };

export function install({ client, command, log, onEvent, onState, onWelcome }) {
  const form = $("drop-form");
  const dropName = new CreateName(form, "c"); // one drop however often it goes out
  const list = $("drop-list");
  const templates = new Map(); // template id -> title, offered in the form

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const num = (name) => parseInt(form[name].value, 10) || 0;
    const frame = {
      t: "drop_coupon",
      template_id: form.template.value.trim(),
      count: num("count"),
      starts_in_s: num("starts_in"),
      early_access_s: num("early"),
    };
    if (num("duration")) frame.duration_s = num("duration");
    const phrase = form.phrase.value.trim();
    if (phrase) frame.phrase = phrase;
    frame.drop_id = dropName.next();
    const onError = (err) => {
      dropName.answered(err);
      if (err.code === "drop_exists" && err.drop) showDrop(err.drop);
    };
    const ack = await command(frame, `drop ${frame.count} × ${frame.template_id}`, { onError });
    if (ack) {
      dropName.answered();
      form.phrase.value = "";
      if (ack.drop) showDrop(ack.drop);
    }
  });

  function rememberTemplate(d) {
    if (templates.get(d.template_id) === d.title) return;
    templates.set(d.template_id, d.title);
    $("template-ids").replaceChildren(
      ...[...templates].map(([id, title]) => h("option", { value: id }, title)),
    );
  }

  // ---- the room's drops ----
  const row = (id) => list.querySelector(`li[data-drop-id="${CSS.escape(id)}"]`);

  function setStatus(li, status) {
    li.drop.status = status;
    showState(li.querySelector(".state"), status);
    li.querySelector(".stop-drop").disabled = status === "ended";
    tick();
  }

  function setRemaining(li, remaining) {
    const d = li.drop;
    if (li.claimsOpen && remaining !== d.remaining) loadClaims(li);
    d.remaining = remaining;
    li.querySelector(".remaining").textContent = remaining;
    li.querySelector(".claimed").textContent = d.count - remaining;
    li.querySelector(".meter > span").style.width = `${(100 * remaining) / d.count}%`;
  }

  // ---- who claimed: asked for while the host has the list open, again as claims come ----
  async function loadClaims(li) {
    if (li.loading) {
      li.again = true;
      return;
    }
    li.loading = true;
    try {
      const ack = await client.request({ t: "drop_claims", drop_id: li.drop.drop_id });
      if (li.claimsOpen) renderClaims(li, ack);
    } catch (err) {
      log(`who claimed ${li.drop.title} refused: ${err.message} (${err.code})`, false);
    }
    li.loading = false;
    if (li.again) {
      li.again = false;
      setTimeout(() => li.claimsOpen && loadClaims(li), CLAIMS_EVERY_MS); // claims keep coming: at most once a second
    }
  }

  function renderClaims(li, ack) {
    const shown = ack.claims.length < ack.claimed ? ` · newest ${ack.claims.length}` : "";
    li.querySelector(".claims-head").textContent = `${ack.claimed} claimed${shown}`;
    li.querySelector(".claims").replaceChildren(
      ...ack.claims.map((c) =>
        h(
          "li",
          { "data-uid": c.uid },
          h("span", { class: "muted" }, timeOf(c.issued_at)),
          ` ${c.uid}`,
          c.status === "issued" ? null : h("span", { class: "badge" }, c.status),
        ),
      ),
    );
  }

  function toggleClaims(li) {
    li.claimsOpen = !li.claimsOpen;
    li.querySelector(".show-claims").textContent = li.claimsOpen ? "Hide claims" : "Who claimed";
    li.querySelector(".claims-box").classList.toggle("hidden", !li.claimsOpen);
    if (li.claimsOpen) loadClaims(li);
  }

  function showDrop(d) {
    rememberTemplate(d);
    let li = row(d.drop_id);
    if (!li) {
      const stop = () => command({ t: "stop_drop", drop_id: d.drop_id }, `stop drop of ${d.title}`).then((ack) => {
        if (ack?.drop) showDrop(ack.drop);
      });
      const how = d.phrase ? `viewers comment «${d.phrase}»` : "viewers tap Claim";
      const early = d.early_access_s ? ` · members ${d.early_access_s}s early` : "";
      li = h(
        "li",
        { "data-drop-id": d.drop_id },
        h("b", {}, `🎟 ${d.title}`),
        " ",
        h("span", { class: "badge state" }),
        h("span", { class: "small muted when" }),
        h("div", { class: "small muted" }, terms(d.coupon || {})),
        h("div", { class: "small muted" }, `${how} · ${d.limit_per_user || 1} per viewer${early}`),
        h(
          "div",
          { class: "small" },
          h("b", { class: "remaining" }),
          ` of ${d.count} left · `,
          h("b", { class: "claimed" }),
          " claimed",
        ),
        h("div", { class: "meter" }, h("span")),
        h(
          "div",
          { class: "row" },
          h("button", { class: "show-claims", onclick: () => toggleClaims(li) }, "Who claimed"),
          h("button", { class: "stop-drop danger", onclick: stop }, "Stop drop"),
        ),
        h("div", { class: "claims-box hidden" }, h("div", { class: "claims-head small muted" }), h("ul", { class: "claims small" })),
      );
      li.drop = { ...d };
      list.prepend(li);
    }
    li.drop = { ...li.drop, ...d };
    setStatus(li, li.drop.status);
    setRemaining(li, li.drop.remaining ?? li.drop.count);
  }

  function tick() {
    const now = Date.now() + (client.skew || 0);
    for (const li of list.querySelectorAll(":scope > li")) {
      const d = li.drop;
      let when = "";
      if (d.status !== "ended" && now < d.starts_at) when = ` starts in ${clock(d.starts_at, client)}`;
      else if (d.status !== "ended" && d.ends_at) when = ` ${clock(d.ends_at, client)} left`;
      if (d.status === "scheduled" && now >= d.starts_at) setStatus(li, "live");
      if (d.status !== "ended" && d.ends_at && now >= d.ends_at) setStatus(li, "ended");
      li.querySelector(".when").textContent = when;
    }
  }
  setInterval(tick, 1000);

  // ---- how purchases are shown to viewers ----
  const proof = $("proof-form");
  function showProof(mode) {
    if (!mode) return;
    proof.mode.value = mode;
    $("proof-now").textContent = `now: ${PROOF[mode] || mode}`;
  }
  proof.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const mode = proof.mode.value;
    if (await command({ t: "set_social_proof", mode }, `purchases shown: ${PROOF[mode]}`)) showProof(mode);
  });
  const roomEvent = onEvent.room;
  onEvent.room = (e) => {
    roomEvent?.(e);
    showProof(e.social_proof);
  };
  onEvent.purchase = (e) => {
    $("proof-last").textContent = `last shown: 🛍 ${purchaseWords(e)}`;
  };

  onEvent.drop = (e) => showDrop(e.drop);
  onEvent.drop_ended = (e) => row(e.drop_id) && setStatus(row(e.drop_id), "ended");
  onState.push((s) => {
    for (const [id, n] of Object.entries(s.drops || {})) if (row(id)) setRemaining(row(id), n);
  });
  onWelcome.push((w) => {
    showProof(w.room?.social_proof);
    if (w.recovered !== true) list.replaceChildren();
    for (const d of w.drops || []) showDrop(d);
  });
}
