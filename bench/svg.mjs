// Small SVG charts for docs/benchmarks.md, written by bench/report.mjs: plain SVG text, no
// library, so the pictures come from the same run as the tables beside them.

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLORS = ['#2f6fdb', '#1a7f37', '#d9822b', '#b83280', '#6e7781', '#8250df', '#bf3989'];

// Horizontal bars in groups: {title, unit, groups: [{label, bars: [{label, value}]}]}. Each bar
// label gets one color across groups; values are printed at the bar ends.
export function barChart({ title, unit, groups }) {
  const labels = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.label)))];
  const color = (label) => COLORS[labels.indexOf(label) % COLORS.length];
  const max = Math.max(...groups.flatMap((g) => g.bars.map((b) => b.value)), 1);
  const left = 250;
  const width = 860;
  const barW = width - left - 110;
  const rowH = 22;
  let y = 58;
  const body = [];
  for (const g of groups) {
    body.push(`<text x="12" y="${y + 14}" font-weight="600">${esc(g.label)}</text>`);
    y += 22;
    for (const b of g.bars) {
      const w = Math.max(1, Math.round((b.value / max) * barW));
      body.push(
        `<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(b.label)}</text>`,
        `<rect x="${left}" y="${y + 3}" width="${w}" height="${rowH - 6}" fill="${color(b.label)}"/>`,
        `<text x="${left + w + 6}" y="${y + 15}">${esc(Math.round(b.value).toLocaleString('en-US'))}</text>`,
      );
      y += rowH;
    }
    y += 10;
  }
  const height = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="13" fill="#1f2328">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="24" font-size="15" font-weight="600">${esc(title)}</text>`,
    `<text x="12" y="42" fill="#656d76">${esc(unit)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
