/** A small line chart as standalone SVG: no dependencies, readable in a browser and in a README. */
export interface Series {
  name: string;
  points: Array<[number, number]>;
  color: string;
  /** Draw markers only (a single configuration, like the dense GRU). */
  markersOnly?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  width?: number;
  height?: number;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function ticks(lo: number, hi: number, count: number): number[] {
  const step = 10 ** Math.floor(Math.log10((hi - lo) / count || 1));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= count) ?? step * 10;
  const out: number[] = [];
  for (let v = Math.ceil(lo / nice) * nice; v <= hi + 1e-9; v += nice) out.push(Number(v.toFixed(10)));
  return out;
}

export function lineChart(series: readonly Series[], o: ChartOptions): string {
  const W = o.width ?? 640;
  const H = o.height ?? 400;
  const m = { l: 64, r: 220, t: 40, b: 52 };
  const all = series.flatMap((s) => s.points);
  const fx = (x: number): number => (o.xLog ? Math.log10(x) : x);
  const xs = all.map(([x]) => fx(x));
  const ys = all.map(([, y]) => y);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const padX = (x1 - x0) * 0.05;
  const padY = (y1 - y0) * 0.08;
  [x0, x1, y0, y1] = [x0 - padX, x1 + padX, y0 - padY, y1 + padY];
  const px = (x: number): number => m.l + ((fx(x) - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (y: number): number => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${m.l}" y="22" font-size="15" font-weight="bold">${esc(o.title)}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#333"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#333"/>`,
  ];
  // Log axis: decades, and 2x and 5x marks when fewer than three decades show.
  const decades = o.xLog
    ? Array.from({ length: Math.floor(x1) - Math.floor(x0) + 1 }, (_, i) => Math.floor(x0) + i)
    : [];
  const logTicks = decades
    .flatMap((e) => (decades.length < 3 ? [1, 2, 5] : [1]).map((f) => f * 10 ** e))
    .filter((t) => Math.log10(t) >= x0 && Math.log10(t) <= x1);
  const xTicks = o.xLog ? logTicks : ticks(x0, x1, 6);
  for (const t of xTicks) {
    const x = px(t);
    parts.push(
      `<line x1="${x}" y1="${H - m.b}" x2="${x}" y2="${H - m.b + 5}" stroke="#333"/><text x="${x}" y="${H - m.b + 18}" text-anchor="middle">${t >= 1e6 ? `${t / 1e6}M` : t >= 1000 ? `${t / 1000}k` : t}</text>`,
    );
  }
  for (const t of ticks(y0, y1, 6)) {
    const y = py(t);
    parts.push(
      `<line x1="${m.l - 5}" y1="${y}" x2="${W - m.r}" y2="${y}" stroke="#eee"/><text x="${m.l - 8}" y="${y + 4}" text-anchor="end">${t}</text>`,
    );
  }
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(
    `<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const pts = [...s.points].sort((a, b) => a[0] - b[0]);
    if (!s.markersOnly && pts.length > 1) {
      parts.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`,
      );
    }
    for (const [x, y] of pts)
      parts.push(
        `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="${s.markersOnly ? 6 : 4}" fill="${s.color}"><title>${esc(s.name)}: ${x}, ${y.toFixed(3)}</title></circle>`,
      );
    const ly = m.t + 10 + i * 20;
    parts.push(
      `<rect x="${W - m.r + 14}" y="${ly - 8}" width="14" height="4" fill="${s.color}"/><text x="${W - m.r + 34}" y="${ly - 2}">${esc(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}
