// Small DOM helpers: every text goes in as text, never as HTML.
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

/** Like replaceChildren, but leaves out null, undefined and false instead of writing them as text. */
export function replace(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

export function append(element, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

const svgNs = 'http://www.w3.org/2000/svg';

export function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(svgNs, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  append(element, children);
  return element;
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : '—';
}

export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** An amount in the operator's currency: two decimals, or two significant digits below 0.01. */
export function money(amount, currency) {
  if (amount === null || amount === undefined) return '—';
  const value = Number(amount);
  const digits = value !== 0 && Math.abs(value) < 0.01 ? value.toPrecision(2) : value.toFixed(2);
  return currency ? `${digits} ${currency}` : digits;
}

/** About how long: seconds under a minute, else rounded minutes (and hours). */
export function about(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—';
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))} s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A run's or a schedule's limits (maxCallsPerRun, maxSpendPerRun, maxSpendPerDay) in words, or null when it has none. */
export function budgetWords(limits) {
  const words = [
    limits.maxCallsPerRun != null ? `${limits.maxCallsPerRun} calls per run` : null,
    limits.maxSpendPerRun != null ? `${money(limits.maxSpendPerRun, limits.currency)} per run` : null,
    limits.maxSpendPerDay != null ? `${money(limits.maxSpendPerDay, limits.currency)} per day` : null,
  ].filter(Boolean);
  return words.length === 0 ? null : words.join(', ');
}

export function runDuration(run) {
  if (!run.startedAt) return null;
  const end = run.completedAt ? new Date(run.completedAt) : new Date();
  return end - new Date(run.startedAt);
}

/**
 * A run's progress: succeeded, failed and waiting of dispatched, as a bar with three parts and its words (and the users
 * cancelled, and those not called because their answer was fresh and their input unchanged).
 */
export function progress(run) {
  const dispatched = run.dispatched ?? 0;
  const done = (run.succeeded ?? 0) + (run.failed ?? 0);
  const waiting = Math.max(0, dispatched - done);
  const percent = dispatched === 0 ? (run.status === 'running' ? 0 : 100) : Math.round((done / dispatched) * 100);
  const cancelled = run.cancelled > 0 ? `, ${run.cancelled} cancelled` : '';
  const unchanged = run.unchanged > 0 ? `, ${run.unchanged} unchanged` : '';
  const words = `${run.succeeded} succeeded, ${run.failed} failed, ${waiting} waiting of ${dispatched}${cancelled}${unchanged}`;
  const bar = h('div', {
    class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': percent,
    'aria-label': `Run progress: ${words}`, 'data-percent': percent,
  });
  for (const [part, count] of [['ok', run.succeeded], ['failed', run.failed], ['waiting', waiting]]) {
    const span = h('span', { class: part });
    span.style.width = dispatched === 0 ? '0%' : `${(count / dispatched) * 100}%`;
    bar.append(span);
  }
  return h('div', { class: 'progress' }, bar, h('span', { class: 'progress-words' }, `${percent}% · ${words}`));
}
