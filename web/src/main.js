// The operators' map: wiring the API, the map, the side panel, the filters and the
// timeline together.
import './style.css';
import * as api from './api.js';
import { TruceMap, EVENT_COLOURS, STATE_COLOURS } from './map.js';
import { findingDetail, eventDetail, sensorDetail, queue, board } from './panels.js';
import { h } from './dom.js';

const $ = (id) => document.getElementById(id);

const ctx = {
  me: null,
  events: new Map(),
  findings: new Map(),
  sensors: new Map(),
  // Fusion's judgement of each sensor (GET /v1/results), by id.
  health: new Map(),
  clauses: new Map(),
  parties: [],
  selected: null,
  filters: { events: new Set(), states: new Set(), clauses: new Set(), parties: new Set(), hidden: new Set() },
  stopStream: null,
  size: 0,
};

const truceMap = new TruceMap($('map'), (kind, id) => select(kind, id));

// The timeline: the span of the day's events and findings; `null` while following live.
function span() {
  let min = Infinity;
  let max = -Infinity;
  for (const e of ctx.events.values()) { const t = Date.parse(e.origin_time); min = Math.min(min, t); max = Math.max(max, t); }
  for (const f of ctx.findings.values()) { const t = Date.parse(f.time); min = Math.min(min, t); max = Math.max(max, t); }
  return Number.isFinite(min) ? [min, max] : null;
}

function until() {
  if ($('follow').checked) return Infinity;
  const s = span();
  if (!s) return Infinity;
  return s[0] + ((s[1] - s[0]) * Number($('scrub').value)) / 1000;
}

function showTime() {
  const s = span();
  const t = $('follow').checked ? s?.[1] : until();
  $('scrub-time').textContent = t && Number.isFinite(t) ? new Date(t).toISOString().replace('.000Z', 'Z') : '';
}

function visibleFindings(t) {
  const f = ctx.filters;
  return [...ctx.findings.values()].filter((x) => Date.parse(x.time) <= t
    && !f.states.has(x.state) && !f.clauses.has(x.clause)
    && !f.parties.has(x.attribution.party || 'undetermined'));
}

let pending = false;
function render() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    const t = until();
    const events = [...ctx.events.values()].filter((e) => Date.parse(e.origin_time) <= t && !ctx.filters.events.has(e.type));
    const findings = visibleFindings(t);
    truceMap.results(events, findings, !ctx.filters.hidden.has('ellipses'));
    $('counts').textContent = `${events.length} of ${ctx.events.size} events, ${findings.length} of ${ctx.findings.size} findings shown`;
    showTime();
    renderFilters();
  });
}

// A checkbox per value; unchecking hides that value.
function checkboxes(container, values, hidden, label = (v) => v, colour = () => null) {
  const known = new Set([...container.querySelectorAll('input')].map((i) => i.value));
  if (values.every((v) => known.has(v)) && known.size === values.length) return;
  container.replaceChildren(...values.map((v) => h('label', {},
    h('input', { type: 'checkbox', value: v, checked: !hidden.has(v),
      onchange: (e) => { if (e.target.checked) hidden.delete(v); else hidden.add(v); applyLayers(); render(); } }),
    colour(v) ? h('span', { style: `color:${colour(v)}` }, ' ● ') : ' ', label(v))));
}

function renderFilters() {
  const types = [...new Set([...ctx.events.values()].map((e) => e.type))].sort();
  checkboxes($('filter-events'), types, ctx.filters.events, (v) => v, (v) => EVENT_COLOURS[v]);
  checkboxes($('filter-states'), Object.keys(STATE_COLOURS), ctx.filters.states, (v) => v, (v) => STATE_COLOURS[v]);
  checkboxes($('filter-clauses'), [...ctx.clauses.keys()], ctx.filters.clauses,
    (v) => `${v}: ${ctx.clauses.get(v)?.rule}`);
  checkboxes($('filter-parties'), [...ctx.parties, 'undetermined'], ctx.filters.parties);
  checkboxes($('filter-layers'), ['areas', 'zones', 'sites', 'sensors', 'ellipses'], ctx.filters.hidden);
}

function applyLayers() {
  for (const layer of ['areas', 'zones', 'sites', 'sensors']) truceMap.show(layer, !ctx.filters.hidden.has(layer));
}

function tab(name) {
  for (const b of document.querySelectorAll('#tabs button')) b.classList.toggle('active', b.dataset.tab === name);
  for (const s of document.querySelectorAll('.tab')) s.hidden = s.id !== `tab-${name}`;
  if (name === 'queue') queue($('queue'), ctx).catch(problem($('queue')));
  if (name === 'board') board($('board'), ctx).catch(problem($('board')));
}

const problem = (container) => (e) => container.replaceChildren(h('p', { class: 'bad' }, e.message));

function select(kind, id) {
  ctx.selected = { kind, id };
  const detail = $('detail');
  if (kind === 'finding' && ctx.findings.has(id)) {
    detail.replaceChildren(findingDetail(ctx.findings.get(id), ctx));
    truceMap.focus(ctx.findings.get(id).location);
  } else if (kind === 'event' && ctx.events.has(id)) {
    detail.replaceChildren(eventDetail(ctx.events.get(id), ctx));
  } else if (kind === 'sensor' && ctx.sensors.has(id)) {
    detail.replaceChildren(sensorDetail(ctx.sensors.get(id), ctx.health.get(id)));
  } else {
    detail.replaceChildren(h('p', { class: 'muted' }, `${kind} ${id} is not in the current results`));
  }
  $('hint').hidden = true;
  tab('detail');
}

async function loadResults() {
  const [events, findings] = await Promise.all([api.get('/v1/events?limit=10000'), api.get('/v1/findings?limit=10000')]);
  ctx.events = new Map(events.events.map((e) => [e.id, e]));
  ctx.findings = new Map(findings.findings.map((f) => [f.id, f]));
  ctx.size = findings.size;
  await loadHealth();
  render();
}

// Sensor health and the learned medium, from the results' summary: sensors corrected or
// quarantined are marked on the map, the medium is shown beside the log's size.
async function loadHealth() {
  const r = await api.get('/v1/results');
  ctx.health = new Map((r.health || []).map((x) => [x.sensor, x]));
  truceMap.health(ctx.health);
  const m = r.medium;
  $('medium').textContent = m
    ? `sound ${m.sound_speed_mps.toFixed(1)} m/s, wind ${m.wind_speed_mps.toFixed(1)} m/s from ${m.wind_from_deg.toFixed(0)}° (± ${Math.max(m.wind_east_sigma_mps, m.wind_north_sigma_mps).toFixed(1)}, ${m.events} events)`
    : '';
}

// At most one health refresh every five seconds while results stream in.
let healthDue = 0;
function refreshHealth() {
  const now = Date.now();
  if (now < healthDue) return;
  healthDue = now + 5000;
  setTimeout(() => loadHealth().catch(() => {}), 5000);
}

ctx.refresh = async () => {
  await loadResults();
  if (!$('tab-queue').hidden) await queue($('queue'), ctx);
};
ctx.select = select;

function onMessage(name, data) {
  if (name === 'event') ctx.events.set(data.id, data);
  else if (name === 'finding') ctx.findings.set(data.id, data);
  else if (name === 'removed') {
    for (const id of data.events || []) ctx.events.delete(id);
    for (const id of data.findings || []) ctx.findings.delete(id);
  } else if (name === 'results') {
    ctx.size = data.size;
    $('log-status').textContent = `results at log size ${data.size}`;
    refreshHealth();
  }
  render();
}

function setLive(on) {
  $('live').textContent = on ? 'live' : 'offline';
  $('live').className = `badge ${on ? 'on' : 'off'}`;
}

async function login(token) {
  api.setToken(token);
  try {
    ctx.me = await api.get('/v1/me');
  } catch (e) {
    api.setToken('');
    ctx.me = null;
    $('hint').textContent = `Login failed: ${e.message}`;
    return false;
  }
  const a = ctx.me.account;
  $('whoami').textContent = `${a.name} (${a.role}${a.party ? `, ${a.party}` : ''}${a.country ? `, ${a.country}` : ''})`;
  $('whoami').hidden = false;
  $('logout').hidden = false;
  $('login').hidden = true;
  const scopes = new Set(ctx.me.scopes);
  // The review queue is the analysts'; the escalation board the guarantors' (and the
  // Commission's and administrators').
  document.querySelector('[data-tab=queue]').hidden = !scopes.has('review');
  document.querySelector('[data-tab=board]').hidden = !(scopes.has('answer') || scopes.has('rule') || ctx.me.admin);
  $('hint').textContent = 'Click an event or a finding on the map for its evidence.';
  await loadResults();
  ctx.stopStream = api.follow(onMessage, setLive);
  return true;
}

function logout() {
  ctx.stopStream?.();
  api.setToken('');
  ctx.me = null;
  ctx.events.clear();
  ctx.findings.clear();
  ctx.health.clear();
  truceMap.health(ctx.health);
  $('medium').textContent = '';
  $('whoami').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('token').value = '';
  document.querySelector('[data-tab=queue]').hidden = true;
  document.querySelector('[data-tab=board]').hidden = true;
  $('detail').replaceChildren();
  setLive(false);
  tab('detail');
  render();
}

async function main() {
  for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => tab(b.dataset.tab));
  $('login').addEventListener('submit', (e) => { e.preventDefault(); login($('token').value.trim()); });
  $('logout').addEventListener('click', logout);
  $('follow').addEventListener('change', render);
  $('scrub').addEventListener('input', () => { $('follow').checked = false; render(); });

  const basemap = await fetch('/app/basemap.json').then((r) => r.json());
  truceMap.basemap(basemap);
  try {
    const agreement = await api.get('/v1/agreement');
    ctx.clauses = new Map(agreement.clauses.map((c) => [c.id, c]));
    ctx.parties = agreement.parties.map((p) => p.id);
    $('agreement-title').textContent = agreement.agreement.title;
    truceMap.agreement(agreement);
  } catch (e) {
    $('agreement-title').textContent = `no agreement: ${e.message}`;
  }
  const sensors = await api.get('/v1/sensors');
  ctx.sensors = new Map(sensors.map((s) => [s.id, s]));
  truceMap.sensors(sensors);
  const checkpoint = await api.text('/checkpoint');
  $('log-status').textContent = `log size ${checkpoint.split('\n')[1]}`;
  render();
  if (api.hasToken()) await login(sessionStorage.getItem('truce-token'));
  document.body.dataset.ready = 'true';
}

main().catch((e) => { $('hint').textContent = `The dashboard failed to start: ${e.message}`; });
