import { ApiError, get, post, patch, call, setAntiForgeryToken } from './api.js';
import { h, replace, when, duration, about, money, budgetWords, runDuration, progress } from './dom.js';
import { runsChart } from './chart.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const auditLink = document.getElementById('nav-audit');
const pageSize = 20;
let session = null;
let timers = [];

const isAdmin = () => session?.role === 'admin';

function every(ms, action) {
  timers.push(setInterval(action, ms));
}

function clearTimers() {
  timers.forEach(clearInterval);
  timers = [];
}

/** Replaces the page's content, keeping focus management simple: the heading gets the focus on navigation. */
function show(title, ...content) {
  document.title = `${title} · CrewPlatform`;
  main.replaceChildren(h('h1', {}, title), ...content);
}

function outcome() {
  return h('p', { class: 'outcome', role: 'status', 'aria-live': 'polite' });
}

function report(element, promise, describe) {
  element.className = 'outcome';
  element.textContent = 'Working…';
  return promise.then((answer) => {
    element.classList.add('ok');
    element.textContent = describe ? describe(answer) : (answer.message ?? 'Done');
    return answer;
  }, (error) => {
    element.classList.add('error');
    element.textContent = error.message;
    return null;
  });
}

/** A number field's value for the API: null when empty, a number when it reads as one, else its text (the API names the field it refuses). */
function numberValue(input) {
  const text = input.value.trim();
  if (text === '') return null;
  const number = Number(text);
  return Number.isFinite(number) ? number : text;
}

/** The entries whose value is not null. */
function given(values) {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== null));
}

/** The confirmation of a previewed action, e.g. "Call 120 users (first: u1, u2, ...): about 120 calls, 3.60 USD, ~4 min. Start?" */
function previewQuestion(verb, preview) {
  const { count, first, unchanged } = preview.users;
  const named = first.length === 0 ? '' : ` (first: ${first.join(', ')}${count > first.length ? ', ...' : ''})`;
  const left = unchanged > 0 ? `, ${unchanged} unchanged users left out` : '';
  return `${verb} ${count} users${named}${left}: about ${preview.expectedCalls} calls, ${money(preview.expectedSpend, preview.currency)}, `
    + `~${about(preview.expectedDurationSeconds)}. Start?`;
}

/**
 * Asks the API for the action's preview (send(true)), shows it in a confirmation and sends the action (send(false))
 * only on OK. A refused preview shows the API's error; an answer that is no preview is the action done, reported so.
 */
async function previewThenDo(element, verb, send, describe) {
  const preview = send(true);
  const answer = await preview.catch(() => null);
  if (answer?.data?.dryRun !== true) return report(element, preview, describe);
  if (!window.confirm(previewQuestion(verb, answer.data))) return null;
  return report(element, send(false), describe);
}

function query() {
  const [, search = ''] = location.hash.split('?');
  return new URLSearchParams(search);
}

/** Links between pages: back (a link to newer ones, or null), where this page is, and the href of older ones (or null). */
function pages(back, here, olderHref) {
  return h('nav', { class: 'pager', 'aria-label': 'Pages' },
    back, h('span', {}, here), olderHref ? h('a', { href: olderHref }, 'Older →') : null);
}

function pager(page, hasNext, hrefFor) {
  return pages(page > 1 ? h('a', { href: hrefFor(page - 1) }, '← Newer') : null, `Page ${page}`, hasNext ? hrefFor(page + 1) : null);
}

/** A labelled input of a filter form, holding value (e.g. the hash query's). */
function field(id, label, type, value) {
  return [h('label', { for: id }, label), h('input', { id, name: id, type, value: value ?? '' })];
}

// ---- sign-in ----

function signInView(message) {
  nav.hidden = true;
  who.replaceChildren();
  const error = h('p', { class: 'outcome error', role: 'alert' }, message ?? '');
  const key = h('input', { id: 'key', name: 'key', type: 'password', autocomplete: 'current-password', required: true });
  const form = h('form', { class: 'card signin', id: 'signin' },
    h('label', { for: 'key' }, 'API key'), key,
    h('button', { type: 'submit' }, 'Sign in'), error);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const answer = await call('POST', '/dashboard/session', { key: key.value });
      key.value = '';
      startSession(answer.data);
    } catch (e) {
      error.textContent = e.status === 401 ? 'That key was refused.' : e.message;
    }
  });
  show('Sign in', h('p', {}, 'Sign in with an API key. It is exchanged for a session cookie and not kept by this page.'), form);
  key.focus();
}

function startSession(data) {
  session = data;
  setAntiForgeryToken(data.antiForgeryToken);
  nav.hidden = false;
  auditLink.hidden = !isAdmin();
  const signOut = h('button', { type: 'button', id: 'sign-out' }, 'Sign out');
  signOut.addEventListener('click', async () => {
    try {
      await post('/dashboard/session/sign-out');
    } finally {
      session = null;
      setAntiForgeryToken(null);
      clearTimers();
      signInView('Signed out.');
    }
  });
  who.replaceChildren(h('span', { id: 'identity' }, `${data.client} (${data.role})`), ' ', signOut);
  route();
}

// ---- overview ----

async function overviewView() {
  const status = h('dl', { class: 'facts', id: 'status' });
  const countdown = h('span', { id: 'countdown' });
  const result = outcome();
  const controls = isAdmin() ? controlsCard(result, () => refresh()) : null;
  const crew = h('dl', { class: 'facts', id: 'crew-api', title: perInstance }, h('dt', {}, 'Crew API'), h('dd', {}, 'Loading…'));
  const queues = h('div', { id: 'queues' }, 'Loading queues…');
  const chart = h('div', { id: 'chart' });
  show('Overview',
    h('section', { class: 'card', 'aria-labelledby': 'schedule-h' }, h('h2', { id: 'schedule-h' }, 'Schedule'), status, controls, result),
    h('section', { class: 'card', 'aria-labelledby': 'crew-h' }, h('h2', { id: 'crew-h' }, 'Crew API and queues'), crew, h('p', { class: 'note' }, perInstance), queues),
    h('section', { class: 'card', 'aria-labelledby': 'chart-h' }, h('h2', { id: 'chart-h' }, 'Last 30 runs'), chart));

  let nextRunAt = null;
  const tick = () => {
    if (!nextRunAt) {
      countdown.textContent = '';
      return;
    }
    const left = new Date(nextRunAt) - new Date();
    countdown.textContent = left > 0 ? ` (in ${duration(left)})` : ' (due now)';
  };

  async function refresh() {
    try {
      const { data } = await get('/api/scheduler');
      nextRunAt = data.isRunning ? data.nextRunAt : null;
      const last = data.lastRun;
      status.replaceChildren(
        h('dt', {}, 'State'), h('dd', { id: 'state' }, data.isRunning ? 'running' : 'stopped'),
        h('dt', {}, 'Interval'), h('dd', { id: 'interval' }, `${data.intervalMinutes} minutes`),
        h('dt', {}, 'Next run'), h('dd', {}, data.isRunning && data.nextRunAt ? when(data.nextRunAt) : '—', countdown),
        h('dt', {}, 'Last run'), h('dd', { id: 'last-run' }, last
          ? [h('a', { href: `#/runs/${last.id}` }, `${last.status}, ${last.succeeded} succeeded, ${last.failed} failed of ${last.dispatched}`), ` · ${when(last.startedAt)}`]
          : 'none yet'));
      tick();
    } catch (e) {
      status.replaceChildren(h('dt', {}, 'Schedule'), h('dd', { class: 'error' }, e.message));
    }
  }

  async function refreshQueues() {
    try {
      const { data } = await get('/api/gateway/queues');
      if (!data.configured) {
        queues.replaceChildren(h('p', { id: 'queues-unknown' }, 'Queues: unknown — the gateway has no RabbitMQ management API configured (GATEWAY_RABBITMQ_MANAGEMENT_URL).'));
        return;
      }
      const parked = data.queues.filter((q) => q.parked).reduce((sum, q) => sum + q.messages, 0);
      queues.replaceChildren(h('p', { id: 'parked' }, `Parked messages (_error queues): ${parked}`), h('div', { class: 'scroll' }, h('table', { id: 'queue-table' },
        h('caption', {}, 'RabbitMQ queues (messages ready and unacknowledged)'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Queue'), h('th', { scope: 'col' }, 'Messages'), h('th', { scope: 'col' }, 'Consumers'))),
        h('tbody', {}, data.queues.map((q) => h('tr', { class: q.parked ? 'parked' : '' },
          h('td', { class: 'name' }, q.name, q.parked ? ' (parked)' : ''), h('td', {}, q.messages), h('td', {}, q.consumers)))))));
    } catch (e) {
      queues.replaceChildren(h('p', {}, `Queues: unknown — ${e.message}`));
    }
  }

  async function refreshChart() {
    try {
      const { data } = await get('/api/scheduler/runs?limit=30');
      chart.replaceChildren(runsChart(data));
    } catch (e) {
      chart.replaceChildren(h('p', { class: 'error' }, e.message));
    }
  }

  async function refreshCrew() {
    crew.replaceChildren(...await crewApiFacts());
  }

  await Promise.all([refresh(), refreshQueues(), refreshChart(), refreshCrew()]);
  every(1000, tick);
  every(5000, refresh);
  every(5000, refreshCrew);
  every(10000, refreshQueues);
}

const perInstance = 'Told by one CrewCaller instance: with several, each keeps its own circuits and answers for itself.';

/** Each crew endpoint as the CrewCaller sees it: reachable (circuit closed), circuit open until HH:MM, probing; or the CrewCaller unreachable. */
async function crewApiFacts() {
  let endpoints;
  try {
    ({ data: endpoints } = await get('/api/crew-caller/endpoints'));
  } catch (e) {
    return [h('dt', {}, 'Crew API'), h('dd', { class: 'error', 'data-circuit': 'unreachable' },
      `unknown — the CrewCaller is unreachable or not running (${e.message})`)];
  }
  const time = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return endpoints.flatMap((e) => {
    const slots = `${e.inFlight} of ${e.maxConcurrency} calls in flight`;
    const failure = e.lastFailure ? ` · last failure ${time(e.lastFailureAt)}: ${e.lastFailure}` : '';
    const words = e.circuit === 'open' ? `paused: circuit open until ${time(e.openUntil)} (since ${time(e.openSince)})`
      : e.circuit === 'half-open' ? 'paused: circuit half-open, one probe call decides'
        : 'reachable (circuit closed)';
    return [h('dt', {}, `Crew API ${e.name}`),
      h('dd', { 'data-endpoint': e.name, 'data-circuit': e.circuit, class: e.circuit === 'closed' ? '' : 'error' }, `${words} · ${slots}${failure}`)];
  });
}

function controlsCard(result, refresh) {
  const interval = h('input', { id: 'interval-minutes', type: 'number', min: 1, max: 10080, value: 60, inputmode: 'numeric' });
  const act = (promise) => report(result, promise).then(refresh);
  const minutes = () => Number.parseInt(interval.value, 10);
  const button = (id, text, action) => h('button', { type: 'button', id, onclick: action }, text);
  const maxCalls = h('input', { id: 'run-max-calls', type: 'text', inputmode: 'numeric', size: 8 });
  const maxSpend = h('input', { id: 'run-max-spend', type: 'text', inputmode: 'decimal', size: 8 });
  const runNow = (dryRun) => post('/api/scheduler', {
    action: 'run-now', ...given({ maxCallsPerRun: numberValue(maxCalls), maxSpendPerRun: numberValue(maxSpend) }), ...(dryRun ? { dryRun } : {}),
  });
  return h('div', { class: 'controls', id: 'controls' },
    h('label', { for: 'interval-minutes' }, 'Interval (minutes)'), interval,
    button('start', 'Start', () => act(post('/api/scheduler', { action: 'start', intervalMinutes: minutes() }))),
    button('change-interval', 'Change interval', () => act(patch('/api/scheduler/schedules/1', { intervalMinutes: minutes() }))),
    button('stop', 'Stop', () => act(post('/api/scheduler', { action: 'stop' }))),
    h('label', { for: 'run-max-calls' }, 'Max calls (run now, optional)'), maxCalls,
    h('label', { for: 'run-max-spend' }, 'Max spend (run now, optional)'), maxSpend,
    button('run-now', 'Run now…', () => previewThenDo(result, 'Call', runNow, (a) => `${a.message ?? 'Run started'}: run ${a.data.runId}`)
      .then(refresh)));
}

// ---- runs ----

/** A run's status with why it was skipped and whether its budget ran out, e.g. "completed · budget exhausted". */
function statusWords(run) {
  return `${run.status}${run.skipReason ? ` (${run.skipReason})` : ''}${run.budgetExhausted ? ' · budget exhausted' : ''}`;
}

/** A schedule's or run's skipUnchanged in words, e.g. "answers younger than 60 min kept"; null when off. */
function skipWords(item) {
  const minutes = item.skipUnchanged?.freshForMinutes;
  return minutes == null ? null : `users with an unchanged input and an answer younger than ${minutes} min are not called`;
}

function runRow(run) {
  const limits = budgetWords(run);
  return h('tr', { 'data-run': run.id },
    h('td', {}, h('a', { href: `#/runs/${run.id}` }, when(run.startedAt))),
    h('td', {}, statusWords(run)), h('td', {}, run.trigger),
    h('td', { class: 'wide' }, progress(run)),
    h('td', { class: 'spent' }, money(run.spent, run.currency), limits ? h('span', { class: 'note' }, ` of at most ${limits}`) : null),
    h('td', {}, when(run.dueAt)), h('td', {}, duration(runDuration(run))));
}

async function runsView() {
  const page = Math.max(1, Number.parseInt(query().get('page') ?? '1', 10) || 1);
  const body = h('tbody', { id: 'runs' });
  const error = h('p', { class: 'error', role: 'alert' });
  const pages = h('div');
  show('Runs', h('div', { class: 'scroll' }, h('table', {},
    h('caption', {}, 'Runs, newest first'),
    h('thead', {}, h('tr', {}, ['Started', 'Status', 'Trigger', 'Progress', 'Spent', 'Due', 'Duration'].map((c) => h('th', { scope: 'col' }, c)))),
    body)), pages, error);
  const refresh = async () => {
    try {
      const { data } = await get(`/api/scheduler/runs?limit=${pageSize + 1}&offset=${(page - 1) * pageSize}`);
      body.replaceChildren(...data.slice(0, pageSize).map(runRow));
      if (data.length === 0) body.replaceChildren(h('tr', {}, h('td', { colspan: 7 }, 'No run yet.')));
      pages.replaceChildren(pager(page, data.length > pageSize, (p) => `#/runs?page=${p}`));
      error.textContent = '';
    } catch (e) {
      error.textContent = e.message;
    }
  };
  await refresh();
  every(2000, refresh);
}

/** Users with the reason each was failed or skipped, linked to their answers. */
function usersTable(users) {
  return users.length === 0 ? h('p', {}, 'None.') : h('table', {},
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'User'), h('th', { scope: 'col' }, 'Reason'))),
    h('tbody', {}, users.map((u) => h('tr', {}, h('td', {}, h('a', { href: `#/users/${encodeURIComponent(u.userUid)}` }, u.userUid)), h('td', {}, u.reason ?? '—')))));
}

async function runView(id) {
  const facts = h('div', { id: 'run' });
  const failed = h('div', { id: 'failed-users' });
  const skipped = h('div', { id: 'skipped-users' });
  const result = outcome();
  show('Run', facts, failed, skipped, result);
  const refresh = async () => {
    let run;
    try {
      ({ data: run } = await get(`/api/scheduler/runs/${encodeURIComponent(id)}`));
    } catch (e) {
      facts.replaceChildren(h('p', { class: 'error', role: 'alert' }, e.message));
      return;
    }
    const cancel = isAdmin() && run.status === 'running'
      ? h('button', {
        type: 'button', id: 'cancel-run', onclick: () => {
          if (!window.confirm('Cancel this run? Calls in flight finish and are stored; no other user is called.')) return;
          report(result, post(`/api/scheduler/runs/${run.id}/cancel`)).then(refresh);
        },
      }, 'Cancel run…')
      : null;
    replace(facts,
      h('p', { class: 'mono' }, run.id),
      progress(run),
      cancel ? h('div', { class: 'controls' }, cancel) : null,
      h('dl', { class: 'facts' },
        h('dt', {}, 'Status'), h('dd', { id: 'run-status' }, statusWords(run)),
        h('dt', {}, 'Trigger'), h('dd', {}, run.trigger),
        h('dt', {}, 'Dispatched'), h('dd', { id: 'dispatched' }, run.dispatched),
        h('dt', {}, 'Succeeded'), h('dd', { id: 'succeeded' }, run.succeeded),
        h('dt', {}, 'Failed'), h('dd', { id: 'failed' }, run.failed),
        h('dt', {}, 'Skipped (no context nor goal, or budget)'), h('dd', { id: 'skipped' }, run.skipped),
        h('dt', {}, 'Cancelled'), h('dd', { id: 'cancelled' }, run.cancelled ?? 0),
        h('dt', {}, 'Unchanged (not called: same context and goal as a fresh answer)'), h('dd', { id: 'unchanged' }, run.unchanged ?? 0),
        h('dt', {}, 'Skip unchanged'), h('dd', { id: 'skip-unchanged' }, skipWords(run) ?? 'off'),
        h('dt', {}, 'Spent'), h('dd', { id: 'spent' }, money(run.spent, run.currency)),
        h('dt', {}, 'Budget'), h('dd', { id: 'budget' }, budgetWords(run) ?? 'no limit', run.budgetExhausted ? ' · exhausted: the users left were skipped' : ''),
        h('dt', {}, 'Schedule, segment, endpoint'), h('dd', {}, `${run.scheduleId ?? '—'}, ${run.segment ?? '—'}, ${run.endpoint}`)),
      h('h2', {}, 'Timeline'),
      h('ol', { class: 'timeline' },
        run.dueAt ? h('li', {}, `Due ${when(run.dueAt)}`) : null,
        h('li', {}, `Started ${when(run.startedAt)}`),
        h('li', {}, run.fanOutCompleted ? 'Every user dispatched' : 'Dispatching users…'),
        run.cancelRequestedAt ? h('li', {}, `Cancel requested ${when(run.cancelRequestedAt)}`) : null,
        h('li', {}, run.completedAt
          ? `${run.status === 'cancelled' ? 'Cancelled' : 'Completed'} ${when(run.completedAt)} after ${duration(runDuration(run))}`
          : `Running for ${duration(runDuration(run))}`)));
    const retry = isAdmin() && run.failed > 0 && run.status !== 'running'
      ? h('button', {
        type: 'button', id: 'retry-failed', onclick: () => previewThenDo(result, 'Retry',
          (dryRun) => post(`/api/scheduler/runs/${run.id}/retry-failed${dryRun ? '?dryRun=true' : ''}`),
          (a) => `${a.message ?? 'Retrying'}: ${a.data.retried} users sent again`).then(refresh),
      }, `Retry the ${run.failed} failed users…`)
      : null;
    replace(failed, h('h2', {}, 'Failed users'), usersTable(run.failedUsers), retry);
    replace(skipped, h('h2', {}, 'Skipped users'), usersTable(run.skippedUsers ?? []));
  };
  await refresh();
  every(2000, refresh);
}

// ---- schedules ----

function scheduleRow(s, pauseActions) {
  return h('tr', { 'data-schedule': s.id },
    h('td', {}, `${s.id}. ${s.name}`), h('td', {}, `${s.segment} on ${s.endpoint}`),
    h('td', { class: 'cadence' }, s.cron ? `cron ${s.cron} (${s.timeZone})` : `every ${s.intervalMinutes} min`,
      s.isRunning ? ` · next ${when(s.nextRunAt)}` : ' · paused',
      s.catchUp === 'none' ? h('span', { class: 'note' }, ' · no catch-up') : null,
      s.cron && s.nextRuns?.length
        ? h('ol', { class: 'next-runs', 'aria-label': `Next runs of ${s.name}` }, s.nextRuns.map((r) => h('li', {}, r.local)))
        : null),
    h('td', { class: 'spent-today' }, money(s.spentToday, s.currency),
      s.maxSpendPerDay != null ? ` of ${money(s.maxSpendPerDay, s.currency)}` : '',
      s.budgetExhaustedToday ? ' · daily budget exhausted: due runs are skipped' : ''),
    h('td', { class: 'spent-month' }, money(s.spentThisMonth, s.currency)),
    h('td', { class: 'budget' }, budgetWords(s) ?? 'no limit',
      s.skipUnchanged ? h('span', { class: 'note' }, ` · skips unchanged users (${s.skipUnchanged.freshForMinutes} min)`) : null),
    h('td', { class: 'pause' }, s.isRunning ? 'running' : pauseWords(s), pauseActions ? ' ' : null, pauseActions?.(s)));
}

/** A paused schedule's pause: "paused by ops at …, until … · “note”". */
function pauseWords(s) {
  return [
    'paused', s.pausedBy ? ` by ${s.pausedBy}` : '', s.pausedAt ? ` at ${when(s.pausedAt)}` : '',
    s.pausedUntil ? `, until ${when(s.pausedUntil)}` : ', until resumed',
    s.pauseNote ? h('span', { class: 'pause-note' }, ` · “${s.pauseNote}”`) : null,
  ];
}

/**
 * The pause dialog: a note and an optional end, a datetime-local in the browser's zone sent as ISO 8601 in UTC.
 * open(schedule) shows it for one schedule; after a pause or a resume, refresh redraws the table.
 */
function pauseDialog(result, refresh) {
  let scheduleId = null;
  const note = h('textarea', { id: 'pause-note', maxlength: 500, rows: 3 });
  const until = h('input', { id: 'pause-until', type: 'datetime-local' });
  const title = h('h2', { id: 'pause-title' }, 'Pause');
  const form = h('form', { method: 'dialog' },
    title,
    h('label', { for: 'pause-note' }, 'Note (why)'), note,
    h('label', { for: 'pause-until' }, 'Resume by itself at (your time zone; empty: until resumed)'), until,
    h('div', { class: 'controls' },
      h('button', { type: 'submit', id: 'pause-confirm' }, 'Pause'),
      h('button', { type: 'button', id: 'pause-cancel', onclick: () => dialog.close() }, 'Cancel')));
  const dialog = h('dialog', { id: 'pause-dialog', 'aria-labelledby': 'pause-title' }, form);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = {};
    if (note.value.trim() !== '') body.note = note.value.trim();
    // A datetime-local reads as local time; toISOString gives the same instant in UTC, as the API takes it.
    if (until.value !== '') body.until = new Date(until.value).toISOString();
    dialog.close();
    report(result, post(`/api/scheduler/schedules/${scheduleId}/pause`, body), (a) => a.message ?? 'Schedule paused').then(refresh);
  });
  const open = (schedule) => {
    scheduleId = schedule.id;
    title.textContent = `Pause ${schedule.id}. ${schedule.name}`;
    note.value = '';
    until.value = '';
    dialog.showModal();
  };
  const actions = (schedule) => schedule.isRunning
    ? h('button', { type: 'button', class: 'pause-open', onclick: () => open(schedule) }, 'Pause…')
    : h('button', {
      type: 'button', class: 'resume',
      onclick: () => report(result, post(`/api/scheduler/schedules/${schedule.id}/resume`), (a) => a.message ?? 'Schedule resumed').then(refresh),
    }, 'Resume');
  return { dialog, actions };
}

const scheduleFields = [
  ['name', 'Name', 'text'], ['segment', 'Segment', 'text'], ['endpoint', 'Endpoint', 'text'],
  ['intervalMinutes', 'Interval (minutes)', 'number'], ['cron', 'Or cron (e.g. 0 6 * * 1-5)', 'text'],
  ['timeZone', 'Time zone (with cron, e.g. Europe/Paris)', 'text'], ['catchUp', 'Catch-up (one or none)', 'text'],
  ['maxCallsPerRun', 'Max calls per run', 'number'],
  ['maxSpendPerRun', 'Max spend per run', 'number'], ['maxSpendPerDay', 'Max spend per day', 'number'],
  ['skipUnchanged', 'Skip unchanged users (minutes)', 'number'],
];
const budgetFields = ['maxCallsPerRun', 'maxSpendPerRun', 'maxSpendPerDay'];

/**
 * Creates a schedule or changes one: the fields of the chosen schedule are filled in; an empty field is left out of a
 * new schedule, keeps its value on a change, except a budget field and skipUnchanged, which an empty field clears.
 * skipUnchanged's minutes go as {"freshForMinutes": N}. A cron makes the schedule a cron one (the interval is then left out).
 */
function scheduleForm(result, refresh) {
  let schedules = [];
  const choice = h('select', { id: 'schedule-id' });
  const inputs = Object.fromEntries(scheduleFields.map(([name, , kind]) =>
    [name, h('input', { id: `schedule-${name}`, name, type: 'text', inputmode: kind === 'number' ? 'decimal' : undefined })]));
  const fill = () => {
    const chosen = schedules.find((s) => String(s.id) === choice.value);
    for (const [name] of scheduleFields) inputs[name].value = chosen?.[name] ?? '';
    inputs.skipUnchanged.value = chosen?.skipUnchanged?.freshForMinutes ?? '';
  };
  choice.addEventListener('change', fill);
  const form = h('form', { class: 'card', id: 'schedule-form' },
    h('h2', {}, 'Create or change a schedule'),
    h('div', { class: 'controls' },
      h('label', { for: 'schedule-id' }, 'Schedule'), choice,
      scheduleFields.flatMap(([name, label]) => [h('label', { for: `schedule-${name}` }, label), inputs[name]]),
      h('button', { type: 'submit' }, 'Save'), result));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const values = Object.fromEntries(scheduleFields.map(([name, , kind]) =>
      [name, kind === 'number' ? numberValue(inputs[name]) : (inputs[name].value.trim() || null)]));
    values.skipUnchanged = values.skipUnchanged === null ? null : { freshForMinutes: values.skipUnchanged };
    if (values.cron !== null) values.intervalMinutes = null;
    const saving = choice.value === ''
      ? post('/api/scheduler/schedules', given(values))
      : patch(`/api/scheduler/schedules/${choice.value}`, {
        ...given(values), ...Object.fromEntries([...budgetFields, 'skipUnchanged'].map((name) => [name, values[name]])),
      });
    report(result, saving, (a) => a.message ?? `Schedule ${a.data.id} created`).then(async (saved) => {
      if (!saved) return;
      choice.dataset.saved = saved.data.id;
      await refresh();
      fill();
    });
  });
  /** The schedules to choose from, keeping the choice (or the one just created); the options are redrawn only when they change. */
  const update = (list) => {
    schedules = list;
    const names = list.map((s) => `${s.id}. ${s.name}`).join('\n');
    if (names === choice.dataset.names && choice.dataset.saved === undefined) return;
    choice.dataset.names = names;
    const keep = choice.dataset.saved ?? choice.value;
    delete choice.dataset.saved;
    choice.replaceChildren(h('option', { value: '' }, 'New schedule'), ...list.map((s) => h('option', { value: s.id }, `${s.id}. ${s.name}`)));
    choice.value = list.some((s) => String(s.id) === String(keep)) ? String(keep) : '';
  };
  return { form, update };
}

async function schedulesView() {
  const body = h('tbody', { id: 'schedules' });
  const error = h('p', { class: 'error', role: 'alert' });
  const editor = isAdmin() ? scheduleForm(outcome(), () => refresh()) : null;
  const pauseResult = h('p', { class: 'outcome', id: 'pause-outcome', role: 'status', 'aria-live': 'polite' });
  const pauses = isAdmin() ? pauseDialog(pauseResult, () => refresh()) : null;
  show('Schedules', h('div', { class: 'scroll' }, h('table', {},
    h('caption', {}, 'Schedules, their spend (UTC day and month), budgets and pauses'),
    h('thead', {}, h('tr', {}, ['Schedule', 'Users', 'When', 'Spent today', 'Spent this month', 'Budget', 'Pause'].map((c) => h('th', { scope: 'col' }, c)))),
    body)), pauseResult, error, pauses?.dialog, editor?.form);
  const refresh = async () => {
    try {
      const { data } = await get('/api/scheduler/schedules');
      body.replaceChildren(...data.map((s) => scheduleRow(s, pauses?.actions)));
      editor?.update(data);
      error.textContent = '';
    } catch (e) {
      error.textContent = e.message;
    }
  };
  await refresh();
  every(5000, refresh);
}

// ---- answers ----

function answersTable(items) {
  return h('div', { class: 'scroll' }, h('table', {},
    h('thead', {}, h('tr', {}, ['Answer', 'User', 'Created', 'Run'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', { id: 'answers' }, items.length === 0 ? h('tr', {}, h('td', { colspan: 4 }, 'No answer found.')) : items.map((a) => h('tr', {},
      h('td', {}, h('a', { href: `#/answers/${a.id}` }, `#${a.id}`)),
      h('td', {}, h('a', { href: `#/users/${encodeURIComponent(a.userUid)}` }, a.userUid)),
      h('td', {}, when(a.createdAt)),
      h('td', {}, a.runId ? h('a', { href: `#/runs/${a.runId}` }, a.runId.slice(0, 8)) : '—'))))));
}

async function answersList(filters, page, hrefFor) {
  const params = new URLSearchParams(filters);
  params.set('limit', pageSize);
  params.set('offset', (page - 1) * pageSize);
  params.set('includeTotal', 'true');
  const answer = await get(`/api/crew-responses?${params}`);
  return [h('p', { id: 'answers-total' }, `${answer.total ?? answer.data.length} answers`), answersTable(answer.data),
    pager(page, page * pageSize < (answer.total ?? 0), hrefFor)];
}

async function answersView() {
  const q = query();
  const page = Math.max(1, Number.parseInt(q.get('page') ?? '1', 10) || 1);
  // Words are the answer's full-text search (q); a JSON path (jsonPath) is for whoever knows the answers' shape.
  const form = h('form', { class: 'card search', id: 'answer-search' },
    field('words', 'Words in the answer', 'search', q.get('words')),
    field('user', 'User uid', 'search', q.get('user')),
    field('from', 'From (date)', 'date', q.get('from')),
    field('to', 'To (date, included)', 'date', q.get('to')),
    h('details', { class: 'advanced', open: q.get('path') ? true : undefined },
      h('summary', {}, 'Advanced: JSON path'),
      h('label', { for: 'path' }, 'SQL/JSON path predicate'),
      h('input', { id: 'path', name: 'path', type: 'text', value: q.get('path') ?? '', placeholder: 'exists($.Questions[*] ? (@.Answers[*] like_regex "price" flag "i"))', spellcheck: 'false', autocomplete: 'off' })),
    h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const name of ['words', 'user', 'from', 'to', 'path']) if (form.elements[name].value.trim()) next.set(name, form.elements[name].value.trim());
    location.hash = `#/answers?${next}`;
  });
  const results = h('div', { id: 'results' });
  show('Answers', form, results);
  const filters = {};
  if (q.get('words')) filters.q = q.get('words');
  if (q.get('path')) filters.jsonPath = q.get('path');
  if (q.get('user')) filters.userUid = q.get('user');
  if (q.get('from')) filters.startDate = q.get('from');
  if (q.get('to')) filters.endDate = q.get('to');
  try {
    results.replaceChildren(...await answersList(filters, page, (p) => { const n = new URLSearchParams(q); n.set('page', p); return `#/answers?${n}`; }));
  } catch (e) {
    results.replaceChildren(h('p', { class: 'error', role: 'alert' }, e.message));
  }
}

/**
 * The crew's usual shape, {"Questions":[{"Question 1":"...","Answers":["...", ...]}, ...]}: each question an object
 * with an Answers array of texts beside its question text(s). Anything else is shown as JSON.
 */
function isCrewShape(data) {
  const plain = (v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  return data !== null && typeof data === 'object' && !Array.isArray(data)
    && Object.keys(data).length === 1 && Array.isArray(data.Questions) && data.Questions.length > 0
    && data.Questions.every((q) => q !== null && typeof q === 'object' && !Array.isArray(q)
      && Array.isArray(q.Answers) && q.Answers.every(plain)
      && Object.entries(q).every(([k, v]) => k === 'Answers' || plain(v)));
}

/** RFC 6901: a key in a JSON pointer. */
const pointerKey = (key) => String(key).replaceAll('~', '~0').replaceAll('/', '~1');

/** Questions and answers as text; each element carries its JSON pointer, so a change can be marked on it. */
function readableAnswer(data) {
  return h('div', { id: 'answer-readable' }, data.Questions.map((question, i) => h('section', { class: 'question' },
    Object.entries(question).filter(([key]) => key !== 'Answers').map(([key, text]) =>
      h('h3', { 'data-pointer': `/Questions/${i}/${pointerKey(key)}` }, h('span', { class: 'label' }, `${key}: `), String(text))),
    question.Answers.length === 0
      ? h('p', { class: 'note' }, 'No answers.')
      : h('ol', {}, question.Answers.map((text, j) => h('li', { 'data-pointer': `/Questions/${i}/Answers/${j}` }, String(text)))))));
}

/** A JSON value in a change, short: text as it is, anything else as compact JSON. */
function changeValue(value) {
  if (value === undefined) return h('span', { class: 'note' }, '—');
  return h('span', { class: 'pre' }, typeof value === 'string' ? value : JSON.stringify(value));
}

/** The changes since the user's previous answer on the same endpoint, or why there are none. */
function changesPanel(answer, readable) {
  const previous = (id) => h('a', { href: `#/answers/${id}` }, `#${id}`);
  if (answer.changed === null || answer.changed === undefined) {
    return [h('p', { id: 'changes-state' }, 'First answer: there is no previous answer of this user on this endpoint to compare with.')];
  }
  if (answer.changed === false) {
    return [h('p', { id: 'changes-state' }, 'Unchanged since the previous answer ', previous(answer.previousId), '.')];
  }
  if (!answer.changes) {
    return [h('p', { id: 'changes-state' }, 'Changed since the previous answer ', previous(answer.previousId),
      ', which has been deleted since: what changed is no longer known.')];
  }
  const { added, removed, modified } = answer.summary;
  const changed = new Set(answer.changes.filter((c) => c.op !== 'remove').map((c) => c.path));
  for (const element of readable?.querySelectorAll('[data-pointer]') ?? []) {
    if (changed.has(element.dataset.pointer)) {
      element.classList.add('changed');
      element.append(' ', h('span', { class: 'badge' }, 'changed'));
    }
  }
  return [
    h('p', { id: 'changes-state' }, `Changed since the previous answer `, previous(answer.previousId),
      `: ${modified} modified, ${added} added, ${removed} removed.`),
    h('div', { class: 'scroll' }, h('table', { id: 'changes' },
      h('caption', {}, 'Differences by JSON pointer: a removed value\'s place in the previous answer, the others\' in this one'),
      h('thead', {}, h('tr', {}, ['Change', 'Pointer', 'Before', 'After'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, answer.changes.map((c) => h('tr', {},
        h('td', {}, { add: 'added', remove: 'removed', replace: 'modified' }[c.op] ?? c.op),
        h('td', { class: 'mono name' }, c.path === '' ? '(the whole answer)' : c.path),
        h('td', {}, changeValue(c.from)),
        h('td', {}, changeValue(c.value))))))),
  ];
}

async function answerView(id) {
  let item;
  try {
    ({ data: item } = await get(`/api/crew-responses/${encodeURIComponent(id)}`));
  } catch (e) {
    show('Answer', h('p', { class: 'error', role: 'alert' }, e.message));
    return;
  }
  const json = JSON.stringify(item.responseData, null, 2);
  const copied = outcome();
  const copy = h('button', { type: 'button', id: 'copy' }, 'Copy JSON');
  copy.addEventListener('click', () => report(copied, navigator.clipboard.writeText(json), () => 'Copied'));
  const download = h('a', { id: 'download', class: 'button', download: `answer-${item.id}.json`, href: URL.createObjectURL(new Blob([json], { type: 'application/json' })) }, 'Download JSON');
  // The crew's usual shape reads as questions and answers, the JSON one click away; any other shape is its JSON.
  const readable = isCrewShape(item.responseData) ? readableAnswer(item.responseData) : null;
  const raw = h('details', { id: 'raw', open: readable === null },
    h('summary', {}, readable === null ? 'Answer (JSON)' : 'Raw JSON'), h('pre', { id: 'answer-json', tabindex: 0 }, json));
  const changes = h('section', { class: 'card', id: 'answer-changes', 'aria-labelledby': 'changes-title' },
    h('h2', { id: 'changes-title' }, 'Changes since the previous answer'), h('p', { class: 'note' }, 'Loading…'));
  show(`Answer #${item.id}`,
    h('dl', { class: 'facts' },
      h('dt', {}, 'User'), h('dd', {}, h('a', { href: `#/users/${encodeURIComponent(item.userUid)}` }, item.userUid)),
      h('dt', {}, 'Created'), h('dd', {}, when(item.createdAt)),
      h('dt', {}, 'Run'), h('dd', {}, item.runId ? h('a', { href: `#/runs/${item.runId}` }, item.runId) : '—'),
      h('dt', {}, 'Request context'), h('dd', { class: 'pre' }, item.requestContext ?? '—'),
      h('dt', {}, 'Request goal'), h('dd', { class: 'pre' }, item.requestGoal ?? '—')),
    h('div', { class: 'controls' }, copy, download, copied),
    h('div', { class: 'answer-layout' },
      h('section', { class: 'card', 'aria-labelledby': 'answer-title' }, h('h2', { id: 'answer-title' }, 'Answer'), readable, raw),
      changes));
  try {
    const { data: answer } = await get(`/api/crew-responses/${encodeURIComponent(item.id)}/changes`);
    replace(changes, changes.firstChild, ...changesPanel(answer, readable));
  } catch (e) {
    replace(changes, changes.firstChild, h('p', { class: 'error', role: 'alert' }, e.message));
  }
}

async function userView(uid) {
  const page = Math.max(1, Number.parseInt(query().get('page') ?? '1', 10) || 1);
  const results = h('div', { id: 'results' });
  show(`User ${uid}`, results);
  try {
    results.replaceChildren(...await answersList({ userUid: uid }, page, (p) => `#/users/${encodeURIComponent(uid)}?page=${p}`));
  } catch (e) {
    results.replaceChildren(h('p', { class: 'error', role: 'alert' }, e.message));
  }
}

// ---- audit ----

// AuditActions.All (shared/ServiceDefaults/Audit/AuditTrail.cs); the dashboard tests compare the two.
const auditActions = [
  'schedule.start', 'schedule.stop', 'schedule.create', 'schedule.update', 'schedule.delete', 'schedule.pause', 'schedule.resume',
  'run.start', 'run.retry-failed', 'run.cancel', 'webhook.create', 'webhook.delete', 'webhook.rotate-secret',
  'crew-response.create', 'crew-response.delete', 'session.sign-in', 'session.sign-out',
];
const auditFilters = ['actor', 'action', 'target', 'from', 'to'];

/** What an action was asked with, as "name: value" lines (a value that is no text as compact JSON); "—" when nothing. */
function fieldsList(fields) {
  const entries = Object.entries(fields ?? {});
  return entries.length === 0 ? '—' : h('dl', { class: 'fields' }, entries.flatMap(([name, value]) =>
    [h('dt', {}, `${name}:`), h('dd', {}, typeof value === 'string' ? value : JSON.stringify(value))]));
}

function auditRow(entry) {
  return h('tr', { 'data-audit': entry.id },
    h('td', {}, when(entry.at)),
    h('td', { class: 'actor' }, entry.actor ?? h('span', { class: 'note' }, 'unknown (not through the gateway)')),
    h('td', { class: 'action' }, entry.action),
    h('td', { class: 'name target' }, entry.target),
    h('td', { class: 'name' }, entry.clientAddress ?? '—'),
    h('td', { class: 'details' }, fieldsList(entry.fields)));
}

/** The audit trail, newest first, filtered by the hash query's actor, action, target, from and to; after= pages on to older entries. */
async function auditView() {
  const q = query();
  const filters = new URLSearchParams();
  for (const name of auditFilters) if (q.get(name)) filters.set(name, q.get(name));
  const action = h('select', { id: 'action', name: 'action' }, h('option', { value: '' }, 'any'),
    auditActions.map((a) => h('option', { value: a, selected: a === q.get('action') }, a)));
  const form = h('form', { class: 'card search', id: 'audit-search' },
    field('actor', 'Who (key name)', 'search', q.get('actor')),
    h('label', { for: 'action' }, 'Action'), action,
    field('target', 'Target (e.g. schedule:1)', 'search', q.get('target')),
    field('from', 'From (date)', 'date', q.get('from')),
    field('to', 'To (date, included)', 'date', q.get('to')),
    h('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const name of auditFilters) if (form.elements[name].value.trim()) next.set(name, form.elements[name].value.trim());
    location.hash = `#/audit?${next}`;
  });
  const results = h('div', { id: 'results' });
  show('Audit', form, results);
  const after = q.get('after');
  const page = after ? Math.max(2, Number.parseInt(q.get('page') ?? '2', 10) || 2) : 1;
  const params = new URLSearchParams(filters);
  params.set('limit', pageSize);
  if (after) params.set('after', after);
  let answer;
  try {
    answer = await get(`/api/audit?${params}`);
  } catch (e) {
    results.replaceChildren(h('p', { class: 'error', role: 'alert' }, e.message));
    return;
  }
  const older = new URLSearchParams(filters);
  if (answer.nextCursor) {
    older.set('after', answer.nextCursor);
    older.set('page', page + 1);
  }
  results.replaceChildren(
    h('div', { class: 'scroll' }, h('table', {},
      h('caption', {}, filters.size === 0 ? 'Who did what, newest first' : 'Who did what, newest first, filtered'),
      h('thead', {}, h('tr', {}, ['When', 'Who', 'Action', 'Target', 'From (address)', 'Details'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', { id: 'audit-entries' }, answer.data.length === 0
        ? h('tr', {}, h('td', { colspan: 6 }, 'No entry found.'))
        : answer.data.map(auditRow)))),
    pages(after ? h('a', { href: `#/audit?${filters}` }, '← Newest') : null, `Page ${page}`,
      answer.nextCursor ? `#/audit?${older}` : null));
}

// ---- routing ----

async function route() {
  clearTimers();
  if (!session) return;
  const [path] = location.hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  for (const link of nav.querySelectorAll('a')) {
    const active = link.getAttribute('href') === `#/${parts[0] ?? ''}`;
    if (active) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
  }
  try {
    if (parts[0] === 'runs' && parts[1]) await runView(parts[1]);
    else if (parts[0] === 'schedules') await schedulesView();
    else if (parts[0] === 'runs') await runsView();
    else if (parts[0] === 'answers' && parts[1]) await answerView(parts[1]);
    else if (parts[0] === 'answers') await answersView();
    else if (parts[0] === 'users' && parts[1]) await userView(parts[1]);
    else if (parts[0] === 'audit') await auditView();
    else await overviewView();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) signInView('Your session has ended; sign in again.');
    else show('Error', h('p', { class: 'error', role: 'alert' }, e.message));
  }
}

window.addEventListener('hashchange', () => {
  route().then(() => main.focus());
});

try {
  const { data } = await get('/dashboard/session');
  if (data.signedIn) startSession(data); else signInView();
} catch (e) {
  signInView(e.message);
}
