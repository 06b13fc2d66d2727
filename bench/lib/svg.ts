// Hand-written SVG of the failover runs: per panel, request latency over time (median and worst
// per 100 ms of due time, log scale) with failed requests as red bars and the kill as a line.
import type { Sample } from "./openloop.js";

export interface Panel {
  title: string;
  killAt: number;
  samples: Sample[];
  failed: number;
}

const W = 520;
const H = 190;
const PAD = { l: 52, r: 12, t: 24, b: 30 };
const BIN = 100;
const Y_MIN = 0.1;
const Y_MAX = 60_000;

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function panel(p: Panel, x0: number, y0: number, span: { from: number; to: number }): string {
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const sx = (ms: number) => x0 + PAD.l + ((ms - span.from) / (span.to - span.from)) * iw;
  const sy = (ms: number) => {
    const v = Math.log10(Math.min(Y_MAX, Math.max(Y_MIN, ms)));
    return y0 + PAD.t + ih - ((v - Math.log10(Y_MIN)) / (Math.log10(Y_MAX) - Math.log10(Y_MIN))) * ih;
  };
  const bins = new Map<number, { ms: number[]; bad: number }>();
  for (const s of p.samples) {
    const b = Math.floor((s.t - p.killAt) / BIN) * BIN;
    const e = bins.get(b) ?? { ms: [], bad: 0 };
    if (s.status === 200) e.ms.push(s.ms);
    else e.bad++;
    bins.set(b, e);
  }
  const keys = [...bins.keys()].sort((a, b) => a - b);
  // A path broken where a bin has no successful answer (the line must not bridge an outage).
  const line = (pick: (ms: number[]) => number) => {
    let d = "";
    let prev: number | undefined;
    for (const k of keys) {
      const ms = bins.get(k)?.ms ?? [];
      if (ms.length === 0) continue;
      const y = sy(pick([...ms].sort((a, b) => a - b)));
      d += `${prev === k - BIN ? "L" : "M"}${sx(k + BIN / 2).toFixed(1)},${y.toFixed(1)}`;
      prev = k;
    }
    return d;
  };
  const bars = keys.filter((k) => (bins.get(k)?.bad ?? 0) > 0).map((k) => {
    const h = Math.min(ih, ((bins.get(k)?.bad ?? 0) / (BIN / 5)) * ih); // a full bar = every request of the bin failed at 200 req/s
    return `<rect x="${sx(k).toFixed(1)}" y="${(y0 + PAD.t + ih - h).toFixed(1)}" width="${Math.max(1, sx(k + BIN) - sx(k)).toFixed(1)}" height="${h.toFixed(1)}" fill="#d62728" opacity="0.6"/>`;
  }).join("");
  const ticks = [1, 10, 100, 1000, 10_000].map((v) => `<line x1="${x0 + PAD.l}" x2="${x0 + W - PAD.r}" y1="${sy(v)}" y2="${sy(v)}" stroke="#ddd"/><text x="${x0 + PAD.l - 4}" y="${sy(v) + 3}" text-anchor="end">${v >= 1000 ? `${v / 1000} s` : `${v} ms`}</text>`).join("");
  const xt: string[] = [];
  for (let s = Math.ceil(span.from / 5000) * 5000; s <= span.to; s += 5000) xt.push(`<text x="${sx(s)}" y="${y0 + H - PAD.b + 14}" text-anchor="middle">${s / 1000}s</text>`);
  return `<g font-size="10" font-family="sans-serif">
<text x="${x0 + PAD.l}" y="${y0 + 14}" font-size="12" font-weight="bold">${esc(p.title)} (${p.failed} failed)</text>
<rect x="${x0 + PAD.l}" y="${y0 + PAD.t}" width="${iw}" height="${ih}" fill="none" stroke="#999"/>${ticks}${xt.join("")}${bars}
<path fill="none" stroke="#1f77b4" stroke-width="1.2" d="${line((a) => a[Math.floor(a.length / 2)] as number)}"/>
<path fill="none" stroke="#ff7f0e" stroke-width="1" d="${line((a) => a[a.length - 1] as number)}"/>
<line x1="${sx(0)}" x2="${sx(0)}" y1="${y0 + PAD.t}" y2="${y0 + PAD.t + ih}" stroke="#000" stroke-dasharray="4 3"/>
</g>`;
}

/** Panels in two columns (killed | hung), one row per front end. */
export function failoverSvg(panels: Panel[]): string {
  const half = Math.ceil(panels.length / 2);
  const span = { from: 0, to: 1000 };
  for (const p of panels) {
    for (const s of p.samples) {
      span.from = Math.min(span.from, s.t - p.killAt);
      span.to = Math.max(span.to, s.t - p.killAt);
    }
  }
  const cells = panels.map((p, i) => panel(p, i < half ? 0 : W, (i % half) * H + 30, span));
  const width = 2 * W;
  const height = half * H + 50;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="18" font-family="sans-serif" font-size="12">CA failover, 200 req/s open loop. Latency by due time (blue median, orange worst per 100 ms, log scale); red: failed requests; dashed: active CA killed (left) / hung (right).</text>
${cells.join("\n")}
</svg>
`;
}
