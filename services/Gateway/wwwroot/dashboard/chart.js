import { svg, h } from './dom.js';

/** The last runs, oldest first: a bar per run for its duration and a line for its success rate, drawn as SVG. */
export function runsChart(runs) {
  const width = 600;
  const height = 160;
  const pad = 28;
  const finished = runs.filter((r) => r.completedAt).slice(0, 30).reverse();
  if (finished.length === 0) return h('p', {}, 'No finished run yet.');
  const durations = finished.map((r) => (new Date(r.completedAt) - new Date(r.startedAt)) / 1000);
  const longest = Math.max(...durations, 1);
  const step = (width - 2 * pad) / finished.length;
  const chart = svg('svg', {
    viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img',
    'aria-label': `Last ${finished.length} runs: duration bars (longest ${Math.round(longest)} s) and success rate line`,
  });
  chart.append(svg('line', { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, class: 'axis' }));
  const points = [];
  finished.forEach((run, i) => {
    const barHeight = ((height - 2 * pad) * durations[i]) / longest;
    const x = pad + i * step;
    const total = run.succeeded + run.failed;
    const rate = total === 0 ? 1 : run.succeeded / total;
    chart.append(svg('rect', {
      x: x + step * 0.15, y: height - pad - barHeight, width: step * 0.7, height: Math.max(barHeight, 1), class: 'duration',
      'data-run': run.id, 'data-seconds': durations[i], 'data-success-percent': Math.round(rate * 100),
    }, svg('title', {}, `${new Date(run.startedAt).toLocaleString()}: ${Math.round(durations[i])} s, ${Math.round(rate * 100)}% succeeded`)));
    points.push(`${x + step / 2},${pad + (1 - rate) * (height - 2 * pad)}`);
  });
  chart.append(svg('polyline', { points: points.join(' '), class: 'rate' }));
  chart.append(svg('text', { x: pad, y: 16, class: 'legend' }, 'bars: duration · line: success rate (top = 100%)'));
  return chart;
}
