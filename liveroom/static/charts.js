// Small charts on a plain canvas, for the host panel's live figures and the report page.
// A chart is a few lines or bars: no library, crisp on high-density screens, and each
// canvas says what it drew (data-points, data-last) so a test can see it move.

export const COLORS = ["#e5484d", "#1d4ed8", "#1f9d55", "#b7791f", "#7c3aed", "#0e7490"];

function setup(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width;
  const hgt = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(w * ratio)) canvas.width = Math.round(w * ratio);
  if (canvas.height !== Math.round(hgt * ratio)) canvas.height = Math.round(hgt * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, hgt);
  return { ctx, w, h: hgt };
}

function axisLabel(ctx, text, x, y, align = "left") {
  ctx.fillStyle = "#6b7280";
  ctx.font = "10px system-ui, sans-serif";
  ctx.textAlign = align;
  ctx.fillText(text, x, y);
}

/**
 * Lines over time: `series` is [{label, points: [number|null, ...], color}], all the same
 * length (one point per sample). A null is a gap.
 */
export function lines(canvas, series, { min = 0, unit = "" } = {}) {
  const { ctx, w, h } = setup(canvas);
  const pad = { l: 4, r: 4, t: 12, b: 4 };
  const values = series.flatMap((s) => s.points.filter((v) => v !== null && v !== undefined));
  const max = Math.max(1, ...values);
  const n = Math.max(2, ...series.map((s) => s.points.length));
  const x = (i) => pad.l + ((w - pad.l - pad.r) * i) / (n - 1);
  const y = (v) => h - pad.b - ((h - pad.t - pad.b) * (v - min)) / (max - min || 1);
  ctx.strokeStyle = "#e3e6ea";
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(pad.l, y(max));
  ctx.lineTo(w - pad.r, y(max));
  ctx.stroke();
  axisLabel(ctx, `${Math.round(max * 10) / 10}${unit}`, pad.l, 10);
  series.forEach((s, k) => {
    ctx.strokeStyle = s.color || COLORS[k % COLORS.length];
    ctx.lineWidth = 1.6;
    ctx.beginPath();
    let drawing = false;
    s.points.forEach((v, i) => {
      if (v === null || v === undefined) {
        drawing = false;
        return;
      }
      if (drawing) ctx.lineTo(x(i), y(v));
      else ctx.moveTo(x(i), y(v));
      drawing = true;
    });
    ctx.stroke();
  });
  if (series.length > 1) {
    let lx = w - pad.r;
    for (const [k, s] of [...series.entries()].reverse()) {
      ctx.fillStyle = s.color || COLORS[k % COLORS.length];
      ctx.font = "10px system-ui, sans-serif";
      ctx.textAlign = "right";
      ctx.fillText(s.label, lx, 10);
      lx -= ctx.measureText(s.label).width + 8;
    }
  }
  const last = series[0]?.points.at(-1);
  canvas.dataset.points = String(Math.max(0, ...series.map((s) => s.points.length)));
  canvas.dataset.last = last === undefined || last === null ? "" : String(last);
}

/** Bars, one per value (counts per time bucket). */
export function bars(canvas, values, { color = COLORS[1] } = {}) {
  const { ctx, w, h } = setup(canvas);
  const max = Math.max(1, ...values);
  const bw = (w - 8) / Math.max(1, values.length);
  ctx.fillStyle = color;
  values.forEach((v, i) => {
    const bh = ((h - 16) * v) / max;
    ctx.fillRect(4 + i * bw + bw * 0.1, h - 4 - bh, Math.max(1, bw * 0.8), bh);
  });
  axisLabel(ctx, String(max), 4, 10);
  canvas.dataset.points = String(values.length);
  canvas.dataset.last = values.length ? String(values.at(-1)) : "";
}
