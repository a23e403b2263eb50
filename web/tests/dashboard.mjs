// The dashboard in a real browser (Debian's Chromium, driven by playwright-core), against a
// running `truce demo --keep`: an auditor sees the contact line and findings arrive live,
// opens one and sees its evidence and "inclusion verified"; sees neither the review queue
// nor the escalation board; an analyst verifies that finding from the queue; a guarantor
// sees the escalation board. A screenshot is saved for a person to look at.
//
// Usage: node tests/dashboard.mjs URL ACCOUNTS_JSON SCREENSHOT_PNG
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';

const [url, accountsFile, screenshot] = process.argv.slice(2);
if (!url || !accountsFile || !screenshot) {
  console.error('usage: node tests/dashboard.mjs URL ACCOUNTS_JSON SCREENSHOT_PNG');
  process.exit(2);
}
const tokens = Object.fromEntries(JSON.parse(readFileSync(accountsFile, 'utf8')).map((a) => [a.role, a.token]));
const step = (what) => console.log(`dashboard test: ${what}`);
function check(condition, message) {
  if (!condition) throw new Error(message);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.setDefaultTimeout(30_000);
  page.on('pageerror', (e) => errors.push(e.message));
  // Every request stays on the server under test: no CDN, no tile server.
  const origin = new URL(url).origin;
  page.on('request', (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) errors.push(`request off the server: ${r.url()}`);
  });

  const login = async (role) => {
    if (await page.locator('#logout').isVisible()) await page.click('#logout');
    await page.fill('#token', tokens[role]);
    await page.click('#login button');
    await page.waitForSelector('#whoami:not([hidden])');
    const who = await page.textContent('#whoami');
    check(who.includes(`(${role}`), `logged in as ${role}, the page says ${who}`);
    step(`logged in: ${who}`);
  };
  // A real click, hit-tested by the browser, on one of the markers `selector` finds: at a
  // point where the browser hits that marker itself (not a marker drawn over it, nor a map
  // control), within the window. Its finding id once its detail opens, or null (with what
  // the browser hit instead, in `missed`).
  const missed = [];
  const openFinding = async (selector) => {
    const ids = await page.$$eval(selector, (els) => els.map((e) => e.getAttribute('data-finding')).filter(Boolean));
    for (const id of ids) {
      const point = await page.evaluate((id) => {
        const el = document.querySelector(`path.truce-finding[data-finding="${id}"]`);
        if (!el) return { miss: 'gone' };
        const r = el.getBoundingClientRect();
        let hit = 'outside the window';
        for (let i = 1; i < 8; i++) {
          for (let j = 1; j < 8; j++) {
            const x = r.left + (r.width * i) / 8;
            const y = r.top + (r.height * j) / 8;
            if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) continue;
            const at = document.elementFromPoint(x, y);
            if (at === el) return { x, y };
            hit = `${at?.tagName} ${at?.getAttribute('class') || ''}`;
          }
        }
        return { miss: hit };
      }, id);
      if (point.miss) {
        missed.push(`${id}: ${point.miss}`);
        continue;
      }
      await page.mouse.click(point.x, point.y);
      const opened = await page.waitForSelector(`article.detail[data-finding="${id}"]`, { timeout: 5000 })
        .then(() => true, () => false);
      if (opened) return id;
      missed.push(`${id}: clicked, no detail`);
    }
    return null;
  };
  const tabs = async () => ({
    queue: await page.locator('[data-tab=queue]').isVisible(),
    board: await page.locator('[data-tab=board]').isVisible(),
  });

  await page.goto(url);
  await page.waitForSelector('body[data-ready=true]');
  const line = await page.locator('path.truce-contact-line').count();
  const countries = await page.locator('path.truce-country').count();
  check(line === 1, `the contact line is drawn once (${line})`);
  check(countries > 10, `the basemap has countries (${countries})`);
  const sectors = await page.locator('path.truce-sector').count();
  const labels = await page.locator('.truce-sector-label').allTextContents();
  check(sectors >= 1 && labels.length === sectors, `the monitoring sectors are marked and named (${sectors}: ${labels.join(', ')})`);
  step(`contact line drawn, ${countries} countries, ${await page.locator('path.truce-zone').count()} zone boundaries, ${sectors} sectors, ${await page.locator('path.truce-sensor').count()} sensors`);

  await login('auditor');
  let t = await tabs();
  check(!t.queue && !t.board, `an auditor sees neither the queue nor the board (${JSON.stringify(t)})`);
  // Findings arrive over the live stream while the demo streams its day; those of events
  // still open are provisional (drawn dashed) until final, and only final ones are reviewed.
  const reviewable = 'path.truce-finding-candidate:not(.truce-provisional)';
  await page.waitForSelector(reviewable, { timeout: 240_000 });
  check(await page.locator('#live.on').count() === 1, 'the live stream is connected');
  const drawn = await page.locator('path.truce-finding').count();
  const provisional = await page.locator('path.truce-finding.truce-provisional').count();
  step(`${drawn} finding(s) drawn, live (${provisional} provisional)`);

  const finding = await openFinding(reviewable);
  check(finding, `a click on a final candidate finding opens its detail (${missed.slice(0, 5).join('; ')})`);
  await page.waitForSelector('.proof-status .ok, .proof-status .bad, .proof-status .partial', { timeout: 60_000 });
  const status = await page.textContent('.proof-status');
  check(status.startsWith('inclusion verified'), `the inclusion check says: ${status}`);
  check(status.includes('checkpoint signature verified'), `the checkpoint's signature is checked too: ${status}`);
  const rows = await page.locator('.evidence tbody tr').count();
  const first = await page.locator('.evidence tbody tr').first().innerText();
  check(rows >= 1, 'the evidence chain lists observations');
  step(`finding ${finding}: ${rows} evidence row(s), first: ${first.replace(/\s+/g, ' ')}; ${status}`);

  // The day has an array registered 300 m from where it stands: fusion's sensor health
  // quarantines it, and the map rings it; its detail says why.
  const quarantined = 'path.truce-sensor-quarantined';
  await page.waitForSelector(quarantined, { timeout: 240_000 });
  await page.locator(quarantined).first().dispatchEvent('click');
  await page.waitForSelector('#detail article.detail h2');
  const sensorText = (await page.textContent('#detail article.detail')).replace(/\s+/g, ' ');
  check(/Sensor \S+/.test(sensorText) && sensorText.includes('quarantined'), `the quarantined sensor's detail says so: ${sensorText}`);
  const medium = await page.textContent('#medium');
  check(medium.startsWith('sound '), `the learned medium is shown: ${medium}`);
  step(`${await page.locator(quarantined).count()} sensor(s) quarantined on the map: ${sensorText.slice(0, 200)}; ${medium}`);

  // A salvo or barrage is one incident: a finding of one says so in its detail, with the
  // incident's rounds. Incidents come with the day's barrages: poll until one is final.
  let incidentFindings = [];
  for (let waited = 0; waited < 240 && !incidentFindings.length; waited += 2) {
    incidentFindings = await page.evaluate(async () => {
      const r = await fetch('/v1/incidents', { headers: { authorization: `Bearer ${sessionStorage.getItem('truce-token')}` } });
      const j = await r.json();
      return j.incidents.filter((i) => !i.provisional).flatMap((i) => i.findings);
    });
    if (!incidentFindings.length) await page.waitForTimeout(2000);
  }
  check(incidentFindings.length > 0, 'the results hold an incident with findings');
  await page.waitForTimeout(1000);
  const inIncident = await openFinding(incidentFindings.slice(0, 60).map((id) => `path.truce-finding[data-finding="${id}"]`).join(', '));
  check(inIncident, `a finding of an incident opens (${missed.slice(-5).join('; ')})`);
  await page.waitForFunction(() => /rounds (fired|landing)/.test(document.querySelector('#detail .incident')?.textContent || ''), null, { timeout: 30_000 });
  step(`finding ${inIncident} is part of ${await page.textContent('#detail .incident')}`);

  await login('analyst');
  t = await tabs();
  check(t.queue && !t.board, `an analyst sees the queue and not the board (${JSON.stringify(t)})`);
  await page.click('[data-tab=queue]');
  const item = page.locator(`#queue .item[data-finding="${finding}"]`);
  await item.waitFor();
  step(`the queue lists ${await page.locator('#queue .item').count()} finding(s), ${finding} among them`);
  await item.locator('button.verify').click();
  await page.waitForSelector('.queue-message.ok');
  await item.waitFor({ state: 'detached' });
  step(`review: ${await page.textContent('.queue-message')}`);
  const verified = await page.evaluate(async ([id, token]) => {
    const r = await fetch('/v1/findings?state=verified&limit=10000', { headers: { Authorization: `Bearer ${token}` } });
    return (await r.json()).findings.some((f) => f.id === id);
  }, [finding, tokens.analyst]);
  check(verified, 'GET /v1/findings lists the finding as verified');
  await page.waitForSelector(`path.truce-finding-verified[data-finding="${finding}"]`);
  step('the finding is verified, on the map and in the API');
  // A salvo verified as a whole: one click, every finding of the incident verified.
  const finalIncidentFindings = await page.evaluate(async (token) => {
    const r = await fetch('/v1/incidents', { headers: { Authorization: `Bearer ${token}` } });
    return (await r.json()).incidents.filter((i) => !i.provisional).flatMap((i) => i.findings);
  }, tokens.analyst);
  const salvo = page.locator(finalIncidentFindings.map((id) => `#queue .item[data-finding="${id}"] button.verify-incident`).join(', ')).first();
  await salvo.waitFor({ timeout: 60_000 });
  await salvo.click();
  await page.waitForFunction(() => /finding\(s\) verified/.test(document.querySelector('.queue-message.ok')?.textContent || ''), null, { timeout: 60_000 });
  const salvoMessage = await page.textContent('.queue-message');
  check(/: [1-9]\d* finding\(s\) verified/.test(salvoMessage), `the incident's findings are verified: ${salvoMessage}`);
  step(`review by incident: ${salvoMessage}`);

  await login('guarantor');
  t = await tabs();
  check(!t.queue && t.board, `a guarantor sees the board and not the queue (${JSON.stringify(t)})`);
  // The policy verifies the protected-site strike of the day's early afternoon: its
  // escalations reach the board while the day streams in.
  const ack = page.locator('#board .item button', { hasText: 'Acknowledge' });
  for (let i = 0; i < 120 && await ack.count() === 0; i++) {
    await page.click('[data-tab=board]');
    await page.waitForSelector('#board h2');
    if (await ack.count() === 0) await page.waitForTimeout(2000);
  }
  step(`${await page.textContent('#board h2')}: ${await page.locator('#board .item').count()} shown`);
  check(await ack.count() > 0, 'the US guarantor has an escalation to acknowledge');
  const escalation = await ack.first().locator('xpath=..').getAttribute('data-escalation');
  await ack.first().click();
  await page.waitForSelector('.board-message.ok');
  step(`${await page.textContent('.board-message')}`);
  const answers = await page.textContent(`#board .item[data-escalation="${escalation}"] .answers`);
  check(answers.startsWith('acknowledged by guarantor-us'), `the board shows the acknowledgement: ${answers}`);

  await login('auditor');
  // Filters: hiding a state hides its markers; the timeline: the start of the day shows
  // fewer findings than its end.
  await page.waitForSelector('path.truce-finding-candidate');
  await page.click('[data-tab=filters]');
  const candidate = page.locator('#filter-states input[value=candidate]');
  await candidate.uncheck();
  await page.waitForFunction(() => document.querySelectorAll('path.truce-finding-candidate').length === 0);
  check(await page.locator('path.truce-finding-verified').count() >= 1, 'verified findings stay drawn');
  await candidate.check();
  await page.waitForSelector('path.truce-finding-candidate');
  const all = await page.locator('path.truce-finding').count();
  await page.locator('#scrub').fill('5');
  await page.waitForFunction((n) => document.querySelectorAll('path.truce-finding').length < n, all);
  const early = await page.locator('path.truce-finding').count();
  step(`filters and timeline: ${all} findings drawn, none of them candidates when those are hidden; ${early} at ${await page.textContent('#scrub-time')}`);
  await page.locator('#follow').check();
  await page.waitForFunction((n) => document.querySelectorAll('path.truce-finding').length >= n, all);
  check(await openFinding('path.truce-finding-verified'), `a click on a verified finding opens it (${missed.slice(-5).join('; ')})`);
  await page.waitForSelector('.proof-status .ok');
  await page.screenshot({ path: screenshot });
  step(`screenshot: ${screenshot}`);
  check(errors.length === 0, `the page had errors: ${errors.join('; ')}`);
  step('passed');
} catch (e) {
  const page = browser.contexts()[0]?.pages()[0];
  if (page) {
    await page.screenshot({ path: screenshot.replace(/\.png$/, '-failed.png') }).catch(() => {});
    console.error(`dashboard test: FAILED; side panel: ${(await page.locator('aside').innerText().catch(() => '')).slice(0, 1500)}`);
  }
  throw e;
} finally {
  await browser.close();
}
