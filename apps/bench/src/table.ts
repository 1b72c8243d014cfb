/** A Markdown table with right-aligned numeric columns, readable in a terminal and in a README. */
export function markdownTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = rows.map((r) => r.map(String));
  const widths = header.map((h, c) => Math.max(h.length, 3, ...cells.map((r) => (r[c] ?? '').length)));
  const numeric = header.map((_, c) => cells.length > 0 && cells.every((r) => /^[-+]?[\d.,e%x]+$/i.test(r[c] ?? '')));
  const pad = (s: string, c: number): string => (numeric[c] ? s.padStart(widths[c]!) : s.padEnd(widths[c]!));
  const line = (r: readonly string[]): string => `| ${r.map((s, c) => pad(s, c)).join(' | ')} |`;
  const rule = `| ${widths.map((w, c) => (numeric[c] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...cells.map(line)].join('\n');
}

/** 1234567 -> "1.23M", for FLOP counts. */
export function si(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

export function ms(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3);
}
