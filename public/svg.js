// Charts are drawn by hand as inline SVG rather than with a chart library: zero dependencies, nothing to vendor
// or keep patched, a couple of kilobytes in all. SVG stays crisp at any width, takes its colours from CSS (so
// dark mode is free), and carries <title>/<desc> for screen readers.
import { s } from "./dom.js";

let uid = 0;

/**
 * Sums buckets into `count` equal slices of [from, to) (unix seconds), so a 7-day window of 5-minute buckets
 * still draws as readable bars. Attempts are delivered + deferred + bounced, as the API counts them.
 */
export function rebin(buckets, { from, to, count }) {
  const width = (to - from) / count;
  const bins = Array.from({ length: count }, (_, i) => ({ start: from + i * width, attempts: 0, smtp_451: 0 }));
  for (const b of buckets) {
    if (b.start < from || b.start >= to) continue;
    const bin = bins[Math.min(count - 1, Math.floor((b.start - from) / width))];
    bin.attempts += (b.delivered ?? 0) + (b.deferred ?? 0) + (b.bounced ?? 0);
    bin.smtp_451 += b.smtp_451 ?? 0;
  }
  return bins;
}

/** A round axis top and step (1, 2 or 5 × 10^k, never below 1: these are counts) for values up to `max`. */
function niceAxis(max, ticks) {
  const raw = Math.max(1, max) / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].find((m) => m * magnitude >= raw) * magnitude);
  return { step, top: Math.max(step, Math.ceil(max / step) * step) };
}

/**
 * A small area of 451s over the window, scaled to its own peak; `previous` (bins of the period before, or null)
 * is a dashed line on the same scale.
 */
export function sparkline(bins, { width = 96, height = 24, label, previous = null }) {
  const peak = Math.max(0, ...bins.map((b) => b.smtp_451), ...(previous ?? []).map((b) => b.smtp_451));
  const step = width / Math.max(1, bins.length - 1);
  const y = (v) => (height - 1 - (peak ? (v / peak) * (height - 3) : 0)).toFixed(1);
  const path = (series) => series.map((b, i) => `${i ? "L" : "M"}${(i * step).toFixed(1)},${y(b.smtp_451)}`).join("");
  const line = path(bins);
  return s("svg", { class: "spark", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label },
    s("title", {}, label),
    s("path", { class: "spark-area", d: `${line}L${width},${height}L0,${height}Z` }),
    previous && s("path", { class: "spark-previous", d: path(previous) }),
    s("path", { class: "spark-line", d: line }));
}

/** A step line over the bars (one level per bar), so a value of the previous period sits over the bar it compares with. */
function steps(values, { left, width, y }) {
  return values.map((v, i) => `${i ? "H" : "M"}${(left + i * width).toFixed(1)}${i ? "V" : ","}${y(v).toFixed(1)}H${(left + (i + 1) * width).toFixed(1)}`).join("");
}

/**
 * Bars of attempts per bin with the 451s drawn over them, y-axis gridlines and counts, time labels along x.
 * `formatTime(unix)` labels the x axis; `unit` names the bin ("5 min") for the y-axis title and tooltips.
 * `previous`, bins of the period before already moved onto these (or null), is drawn as two dashed step lines.
 */
export function timeChart(bins, { width, height = 240, title, desc, formatTime, unit, previous = null }) {
  const m = { left: 44, right: 8, top: 22, bottom: 26 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const { step, top } = niceAxis(Math.max(0, ...bins.map((b) => b.attempts), ...(previous ?? []).map((b) => b.attempts)), 4);
  const y = (v) => m.top + plotH - (v / top) * plotH;
  const bw = plotW / bins.length;
  const gap = bw > 4 ? Math.max(1, bw * 0.2) : 0;
  const id = `chart-${++uid}`;

  const grid = [];
  for (let v = 0; v <= top; v += step) {
    grid.push(s("line", { class: "grid", x1: m.left, x2: width - m.right, y1: y(v), y2: y(v) }),
      s("text", { class: "tick", x: m.left - 6, y: y(v) + 4, "text-anchor": "end" }, v.toLocaleString()));
  }
  // Time labels under every n-th bar, spaced by an estimate of their width (no text measuring before insertion).
  const labelWidth = formatTime(bins[0].start).length * 6.5 + 12;
  const every = Math.max(1, Math.ceil((1.5 * labelWidth) / bw));
  const xLabels = [];
  for (let i = 0; i < bins.length; i += every) {
    const x = m.left + i * bw;
    xLabels.push(s("line", { class: "axis", x1: x, x2: x, y1: m.top + plotH, y2: m.top + plotH + 4 }),
      s("text", { class: "tick", x, y: height - 8, "text-anchor": i === 0 ? "start" : "middle" }, formatTime(bins[i].start)));
  }
  const bars = bins.map((b, i) => {
    if (b.attempts === 0 && b.smtp_451 === 0) return null;
    const x = m.left + i * bw + gap / 2;
    const w = Math.max(1, bw - gap);
    const then = previous?.[i];
    const before = then ? `; previous period ${then.attempts.toLocaleString()} attempts, ${then.smtp_451.toLocaleString()} × 451` : "";
    return s("g", {},
      s("title", {}, `${formatTime(b.start)}: ${b.attempts.toLocaleString()} attempts, ${b.smtp_451.toLocaleString()} × 451${before}`),
      s("rect", { class: "bar-attempts", x, width: w, y: y(b.attempts), height: y(0) - y(b.attempts) }),
      b.smtp_451 > 0 && s("rect", { class: "bar-451", x, width: w, y: y(b.smtp_451), height: y(0) - y(b.smtp_451) }));
  });

  return s("svg", { class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-labelledby": `${id}-t ${id}-d` },
  s("title", { id: `${id}-t` }, title),
  s("desc", { id: `${id}-d` }, desc),
  s("text", { class: "axis-title", x: 0, y: 12 }, `per ${unit}`),
  grid, xLabels, bars,
  previous && s("g", { class: "previous" },
    s("path", { class: "prev-attempts", d: steps(previous.map((b) => b.attempts), { left: m.left, width: bw, y }) }),
    s("path", { class: "prev-451", d: steps(previous.map((b) => b.smtp_451), { left: m.left, width: bw, y }) }),
    s("text", { class: "prev-label", x: width - m.right, y: 12, "text-anchor": "end" }, "previous period (dashed)")),
  s("line", { class: "axis", x1: m.left, x2: width - m.right, y1: y(0), y2: y(0) }));
}
