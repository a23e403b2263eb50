// The side panel's contents: the detail of an event, finding or sensor with its evidence
// chain and inclusion check, the review queue and the escalation board.
import * as api from './api.js';
import { parseCheckpoint, checkSignature, verifyInclusion, observationOf } from './proof.js';
import { h, definitions, km, pct, place } from './dom.js';

const MAX_EVIDENCE = 60;

// The evidence table of `indices` and, below it, the in-browser inclusion check of each
// entry against the latest checkpoint.
function evidence(indices, sensors) {
  const shown = indices.slice(0, MAX_EVIDENCE);
  const body = h('tbody');
  const status = h('p', { class: 'proof-status' }, 'checking inclusion against the latest checkpoint…');
  const section = h('section', { class: 'evidence' },
    h('h3', {}, `Evidence (${indices.length} observation${indices.length === 1 ? '' : 's'})`),
    h('table', {}, h('thead', {}, h('tr', {}, ['log index', 'sensor', 'operator', 'kind', 'observed at', 'in log']
      .map((t) => h('th', {}, t)))), body),
    indices.length > shown.length ? h('p', { class: 'muted' }, `first ${shown.length} shown`) : null,
    status);
  (async () => {
    try {
      // Results follow the log as it is committed; the checkpoint that covers the newest
      // evidence follows within the checkpoint interval: wait for it (10 s at most).
      const newest = Math.max(-1, ...shown);
      let note = await api.text('/checkpoint');
      for (let i = 0; i < 20 && parseCheckpoint(note).size <= newest; i++) {
        status.textContent = `waiting for a checkpoint that covers entry ${newest}…`;
        await new Promise((resolve) => setTimeout(resolve, 500));
        note = await api.text('/checkpoint');
      }
      const log = await api.get('/v1/log');
      const checkpoint = parseCheckpoint(note);
      const signature = await checkSignature(checkpoint, log.vkey);
      let verified = 0;
      for (const index of shown) {
        const cell = h('td', {}, '…');
        const row = h('tr', { 'data-index': index }, h('td', {}, String(index)));
        body.append(row);
        try {
          const entry = await api.get(`/v1/entries/${index}`);
          // An observation's fields are read from the entry's own bytes, which are proved.
          const o = observationOf(entry.entry) || entry.action || entry.record || {};
          const sensor = sensors.get(o.sensor);
          row.append(h('td', {}, o.sensor || entry.kind), h('td', {}, sensor?.operator || ''),
            h('td', {}, o.kind || entry.kind), h('td', {}, o.observed_at || ''), cell);
          const ok = await verifyInclusion(api.get, index, entry.entry, checkpoint);
          cell.textContent = ok ? '✓' : '✗';
          cell.className = ok ? 'ok' : 'bad';
          if (ok) verified++;
        } catch (e) {
          row.append(h('td', { colspan: 4 }, `unreadable: ${e.message}`), cell);
          cell.textContent = '✗';
        }
      }
      const root = Array.from(checkpoint.root.slice(0, 6), (b) => b.toString(16).padStart(2, '0')).join('');
      const sig = signature === true ? 'checkpoint signature verified with the log key the server publishes (GET /v1/log)'
        : signature === null ? 'this browser cannot check Ed25519 signatures (truce verify does)'
          : 'checkpoint signature INVALID';
      status.replaceChildren();
      if (shown.length === 0) {
        status.append(h('span', { class: 'partial' }, 'no evidence to check'));
      } else if (verified === shown.length && signature === true) {
        status.append(h('span', { class: 'ok' }, 'inclusion verified'),
          ` — ${verified} of ${shown.length} entries are in the log at checkpoint size ${checkpoint.size} (root ${root}…); ${sig}.`);
      } else if (verified === shown.length && signature === null) {
        // Proved against a root whose signature this browser could not check.
        status.append(h('span', { class: 'partial' }, 'inclusion proved, checkpoint unchecked'),
          ` — ${verified} of ${shown.length} entries lead to the root of checkpoint size ${checkpoint.size} (root ${root}…); ${sig}.`);
      } else {
        status.append(h('span', { class: 'bad' }, 'inclusion NOT verified'),
          ` — ${verified} of ${shown.length} entries proved at checkpoint size ${checkpoint.size}; ${sig}.`);
      }
    } catch (e) {
      status.textContent = `could not check inclusion: ${e.message}`;
      status.className = 'bad';
    }
  })();
  return section;
}

function attribution(a) {
  const probabilities = Object.entries(a.probabilities || {})
    .map(([party, p]) => `${party} ${pct(p)}`).join(', ');
  const who = a.party ? `attributed to ${a.party}` : 'undetermined';
  return probabilities ? `${who} (${probabilities}; threshold ${pct(a.threshold)})` : who;
}

export function findingDetail(f, ctx) {
  const clause = ctx.clauses.get(f.clause);
  return h('article', { class: 'detail', 'data-finding': f.id },
    h('h2', {}, `Finding: clause ${f.clause} `, h('span', { class: `state state-${f.state}` }, f.state),
      f.provisional ? h('span', { class: 'provisional', title: 'its event is still open to new observations; it is reviewed once final' }, ' provisional') : null),
    clause ? h('p', { class: 'clause-text' }, clause.text) : null,
    definitions([
      ['rule', f.rule], ['time', f.time], ['type', `${f.generic_type}${f.sub_type ? ` / ${f.sub_type}` : ''}`],
      ['event', h('a', { href: '#', onclick: (e) => { e.preventDefault(); ctx.select('event', f.event); } }, f.event)],
      ['place', place(f.location)], ['distance to line', km(f.distance_to_line_m)],
      ['side', f.side || 'none'], ['zones', (f.zones || []).join(', ')],
      ['attribution', attribution(f.attribution)], ['basis', f.attribution.basis],
      ['weapon class', f.weapon_class], ['protected sites', (f.protected_sites || []).map((s) => `${s.id} (${s.category}, ${Math.round(s.distance_m)} m)`).join(', ')],
      ['operators', (f.operators || []).join(', ')], ['modalities', (f.modalities || []).join(', ')],
      ['incident', f.incident ? incidentSummary(f.incident) : ''],
      ['detail', f.detail], ['id', f.id],
    ]),
    evidence(f.observations || [], ctx.sensors));
}

// The salvo or barrage a finding belongs to: its id at once, its rounds and duration once
// GET /v1/incidents/{id} answers.
function incidentSummary(id) {
  const span = h('span', { class: 'incident' }, id);
  api.get(`/v1/incidents/${encodeURIComponent(id)}`).then((i) => {
    const states = Object.entries(i.finding_states || {}).map(([s, n]) => `${n} ${s}`).join(', ');
    span.textContent = `${id}: ${i.rounds} ${i.type === 'launch' ? 'rounds fired' : 'rounds landing'} in ${Math.round(i.duration_s)} s`
      + ` within ${Math.round(i.radius_m)} m, ${i.party || 'undetermined'}; findings ${states}`;
  }).catch(() => {});
  return span;
}

export function eventDetail(e, ctx) {
  const links = [];
  if (e.fired_from) links.push(['fired from', place(e.fired_from.location)]);
  if (e.landed_at) links.push(['landed at', place(e.landed_at.location)]);
  return h('article', { class: 'detail', 'data-event': e.id },
    h('h2', {}, `Event: ${e.type}`),
    definitions([
      ['origin time', `${e.origin_time} ± ${(e.origin_time_sigma_s || 0).toFixed(2)} s`],
      ['place', place(e.location)],
      ['90 % ellipse', e.ellipse_90 ? `${Math.round(e.ellipse_90[0])} × ${Math.round(e.ellipse_90[1])} m, major axis at ${Math.round(e.ellipse_90[2])}°` : ''],
      ['Cramér–Rao bound', e.crb_m ? `${e.crb_m.toFixed(0)} m` : ''],
      ['sensors', e.quality?.sensors], ['weapon class', e.weapon_class], ['object', e.object_class],
      ...links,
      ['operators', (e.operators || []).join(', ')], ['modalities', (e.modalities || []).join(', ')],
      ['id', e.id],
    ]),
    evidence(e.observations || [], ctx.sensors));
}

// A sensor, with fusion's judgement of it when there is one: its state, what fusion does
// (a correction subtracted from its times, or its arrivals set aside), and why.
export function sensorDetail(s, health) {
  const action = health?.quarantined ? 'quarantined: its arrivals are kept in the log and left out of the events'
    : health?.correction ? `corrected: ${(health.correction.offset_s * 1e3).toFixed(1)} ms subtracted from its times`
      + (health.correction.drift ? `, drifting ${(health.correction.drift * 1e6).toFixed(1)} ppm` : '')
      : health ? 'used as it reports' : '';
  return h('article', { class: 'detail' }, h('h2', {}, `Sensor ${s.id}`),
    definitions([['kind', s.kind], ['operator', s.operator], ['status', s.status],
      ['position', s.position ? place(s.position) : ''], ['registered in log entry', s.registered_index],
      ['revoked in log entry', s.revoked_index],
      ['health', health ? health.state.replace(/_/g, ' ') : ''], ['fusion', action],
      ['why', health?.reason],
      ['since', health ? `its arrival ${health.since_arrivals} of ${health.arrivals}` : '']]));
}

// The review queue: each candidate or contested finding with the analyst's three verdicts.
export async function queue(container, ctx) {
  const answer = await api.get('/v1/review/queue');
  // The message outlives the list, which is drawn again after each verdict.
  const message = container.querySelector('.queue-message') || h('p', { class: 'queue-message' });
  // One item of the queue: what it is, and the verdict buttons that POST to `path`.
  const item = (attrs, label, title, state, meta, path, extra = null) => {
    const reason = h('input', { placeholder: 'reason (to discount)', 'aria-label': 'reason' });
    const act = async (verdict) => {
      try {
        const r = await api.post(path, { verdict, reason: reason.value || undefined });
        const opened = (r.escalations || []).length;
        message.textContent = `${label}: ${verdict} logged in entry ${r.log_index}${opened ? `; ${opened} escalation(s) opened` : ''}`;
        message.className = 'queue-message ok';
        await ctx.refresh();
      } catch (e) {
        message.textContent = `${label}: ${e.message}`;
        message.className = 'queue-message bad';
      }
    };
    return h('div', { class: 'item', ...attrs },
      h('div', {}, title, ' ', h('span', { class: `state-${state}` }, state)),
      h('div', { class: 'muted' }, meta),
      h('div', {},
        h('button', { type: 'button', class: 'verify', onclick: () => act('verify') }, 'Verify'),
        h('button', { type: 'button', class: 'contest', onclick: () => act('contest') }, 'Contest'),
        h('button', { type: 'button', class: 'discount', onclick: () => act('discount') }, 'Discount'),
        reason, extra));
  };
  // A finding of a salvo or barrage: the whole incident verified in one step, each of its
  // findings getting the verdict in the log.
  const incidentButton = (f) => {
    if (!f.incident) return null;
    const verifyAll = async () => {
      try {
        const r = await api.post(`/v1/incidents/${encodeURIComponent(f.incident)}/review`, { verdict: 'verify' });
        const entries = r.reviews.map((x) => x.log_index);
        message.textContent = `incident ${f.incident} (${r.rounds} rounds): ${r.reviews.length} finding(s) verified`
          + (entries.length ? ` in entries ${entries[0]}–${entries[entries.length - 1]}` : '') + `, ${r.unchanged} already so`;
        message.className = 'queue-message ok';
        await ctx.refresh();
      } catch (e) {
        message.textContent = `incident ${f.incident}: ${e.message}`;
        message.className = 'queue-message bad';
      }
    };
    return h('button', { type: 'button', class: 'verify-incident', title: `verify every finding of incident ${f.incident}`, onclick: verifyAll }, 'Verify the incident');
  };
  const findings = answer.items.map(({ finding: f, reviews }) => item({ 'data-finding': f.id }, f.id,
    h('a', { href: '#', onclick: (e) => { e.preventDefault(); ctx.select('finding', f.id); } },
      `clause ${f.clause} · ${f.event_type} · ${f.time}`),
    f.state,
    `${f.attribution.party || 'undetermined'} · ${(f.operators || []).length} operator(s), ${(f.modalities || []).join('+')}`
      + (reviews?.length ? ` · ${reviews.length} earlier review(s)` : ''),
    `/v1/findings/${encodeURIComponent(f.id)}/review`, incidentButton(f)));
  // Allegations, with what the cross-check against the sensors found.
  const allegations = (answer.allegations || []).map(({ index, state, allegation: r }) => {
    const a = r.allegation;
    const check = r.assessment?.[1] || r.assessment;
    return item({ 'data-allegation': index }, `allegation ${index}`,
      h('span', {}, `allegation ${index} by ${a.party}: ${a.summary} · ${a.event_time}`),
      state,
      `cross-check: ${(check?.outcome || 'pending').replace(/_/g, ' ')}${check?.detail ? ` (${check.detail})` : ''}`
        + (r.reviews?.length ? ` · ${r.reviews.length} earlier review(s)` : ''),
      `/v1/allegations/${index}/review`);
  });
  const all = [...findings, ...allegations];
  container.replaceChildren(h('h2', {}, `Review queue (${answer.count} finding(s), ${allegations.length} allegation(s))`), message,
    ...(all.length ? all : [h('p', { class: 'muted' }, 'Nothing to review.')]));
}

// The escalation board: each escalation, its deadlines judged now, and, for a guarantor,
// the acknowledgement.
export async function board(container, ctx) {
  const answer = await api.get('/v1/escalations');
  const message = container.querySelector('.board-message') || h('p', { class: 'board-message' });
  const deadlines = answer.deadlines || [];
  const rows = Object.entries(answer.escalations || {}).map(([index, r]) => {
    const e = r.escalation;
    const due = deadlines.filter((d) => String(d.escalation) === index)
      .map((d) => h('div', { class: `due due-${d.status}` }, `${d.action} by ${d.due}: ${d.status.replace('_', ' ')}`
        + (d.lapse !== undefined ? ` (lapse logged in entry ${d.lapse})` : '')));
    const ack = async () => {
      try {
        const a = await api.post(`/v1/escalations/${index}/ack`, {});
        message.textContent = `escalation ${index} acknowledged in log entry ${a.log_index}`;
        message.className = 'board-message ok';
        await board(container, ctx);
      } catch (err) {
        message.textContent = `escalation ${index}: ${err.message}`;
        message.className = 'board-message bad';
      }
    };
    const mine = ctx.me?.account?.role === 'guarantor' && ctx.me.account.country === e.guarantor;
    return h('div', { class: 'item', 'data-escalation': index },
      h('div', {}, h('strong', {}, `${e.guarantor}: ${e.commitment}`), ` (${e.kind})`),
      h('div', { class: 'muted' }, e.reason),
      h('div', {}, (e.findings || []).map((id) => h('a', { href: '#', onclick: (ev) => { ev.preventDefault(); ctx.select('finding', id); } }, `finding ${id} `))),
      due,
      h('div', { class: 'answers' }, r.acknowledged
        ? `acknowledged by ${r.acknowledged.actor} at ${r.acknowledged.at} (log entry ${r.acknowledged.index})`
        : 'not acknowledged',
      r.response ? ` · answered by ${r.response.actor} at ${r.response.at}` : ''),
      mine && !r.acknowledged ? h('button', { type: 'button', onclick: ack }, 'Acknowledge') : null);
  });
  container.replaceChildren(h('h2', {}, `Escalations (${rows.length})`), h('p', { class: 'muted' }, `judged at ${answer.now}`),
    message, ...(rows.length ? rows : [h('p', { class: 'muted' }, 'No escalations.')]));
}
