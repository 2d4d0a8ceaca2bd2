// The simulator's live chart (uPlot, bundled with the page): admitted, sold-out and rate-limited
// answers per second on the left axis, units sold so far on the right.
import uPlot from './vendor/uPlot.esm.js';

const SERIES = [
  { key: 'admitted', label: 'admitted /s', stroke: '#2f6fdb' },
  { key: 'sold_out', label: 'sold out /s', stroke: '#d9822b' },
  { key: 'rate_limited', label: 'rate limited /s', stroke: '#b83280' },
];

export class SaleChart {
  constructor(element) {
    this.plot = new uPlot({
      width: Math.max(320, element.clientWidth),
      height: 260,
      scales: { x: { time: false } },
      legend: { live: false },
      axes: [
        { label: 'seconds since start' },
        { label: 'answers per second' },
        { side: 1, scale: 'units', label: 'units sold', grid: { show: false } },
      ],
      series: [
        { label: 's' },
        ...SERIES.map((s) => ({ label: s.label, stroke: s.stroke, width: 2 })),
        { label: 'sold', scale: 'units', stroke: '#1a7f37', width: 3 },
      ],
    }, [[], [], [], [], []], element);
    new ResizeObserver(() => {
      this.plot.setSize({ width: Math.max(320, element.clientWidth), height: 260 });
    }).observe(element);
  }

  // Shows a sale's series (Sale.series).
  show(series) {
    this.data = [series.t, ...SERIES.map((s) => series[s.key]), series.sold];
    this.plot.setData(this.data.map((column) => column.slice()));
  }
}
