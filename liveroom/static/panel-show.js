// The show in the host panel: its status and start, "Go live", how many asked to be
// reminded, and how the group messages to WeCom are doing (failures in red).
import { h, timeOf } from "/static/liveroom.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 3000;

export function install({ client, command, onEvent, onWelcome }) {
  const card = $("show-card");
  let status = "";

  function render(s) {
    const show = s.show;
    status = show ? show.status : status;
    const when = show?.starts_at ? new Date(show.starts_at).toLocaleString() : "not scheduled";
    $("show-status").textContent = status || "live";
    $("show-status").className = `badge ${status || "live"}`;
    $("show-when").textContent = when;
    $("show-subs").textContent = s.subscribers ?? 0;
    $("go-live").classList.toggle("hidden", status !== "scheduled");
    const rows = (s.messages || []).map((m) =>
      h(
        "li",
        { class: m.state, "data-job": m.job_id },
        h("b", {}, m.payload.notice), ` ${m.state}`,
        m.attempts > 1 ? ` after ${m.attempts} attempts` : "",
        m.state === "pending" ? ` · due ${timeOf(m.due_at)}` : "",
        m.error ? h("div", { class: "small" }, m.error) : null,
      ),
    );
    $("show-messages").replaceChildren(...rows);
  }

  async function refresh() {
    try {
      render(await client.request({ t: "show_status" }));
    } catch {}
  }

  $("go-live").addEventListener("click", async () => {
    if (await command({ t: "go_live" }, "go live")) refresh();
  });
  onWelcome.push(() => refresh());
  const onRoom = onEvent.room;
  onEvent.room = (e) => {
    onRoom(e);
    if (e.show) refresh();
  };
  setInterval(() => {
    if (card.offsetParent !== null) refresh();
  }, POLL_MS);
}
