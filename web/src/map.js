// The map: a Natural Earth basemap drawn from GeoJSON (no tiles), the agreement's layers,
// sensors, events with their 90 % error ellipses, and findings. Every vector is SVG with a
// `truce-*` class, so that it can be styled, printed and found by tests.
import L from 'leaflet';
import 'leaflet/dist/leaflet.css';

export const STATE_COLOURS = {
  candidate: '#e65100', verified: '#b71c1c', contested: '#6a1b9a', discounted: '#777777',
};
// A sensor's ring when fusion quarantines or corrects it.
export const HEALTH_COLOURS = { quarantined: '#d50000', corrected: '#ff9800' };
export const EVENT_COLOURS = {
  launch: '#1565c0', impact: '#c62828', explosion: '#ad1457', airburst: '#6d4c41',
  weapon_presence: '#2e7d32', movement: '#00838f', airspace_entry: '#4527a0', fire: '#ef6c00',
};
// A finding's fill: the kind of rule its clause is (its ring: its state).
export const RULE_COLOURS = {
  no_fire: '#9e9e9e', cross_line_fire: '#ef6c00', protected_site_strike: '#c62828',
  weapon_in_withdrawal_zone: '#5d4037', entry_into_buffer_zone: '#1565c0', airspace_crossing: '#00838f',
};
const PARTY_COLOURS = ['#1e5aa8', '#a82a1e', '#2e7d32', '#6a1b9a'];
const ZONE_COLOURS = {
  buffer: '#d84315', withdrawal: '#5d4037', drone_free: '#00838f',
};
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2',
  '#7f7f7f', '#bcbd22', '#17becf'];

export function colourOf(name, palette = PALETTE) {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return palette[h % palette.length];
}

// The polygon of a 90 % ellipse [major m, minor m, azimuth of the major axis °] at `at`.
export function ellipse(at, [major, minor, azimuthDeg]) {
  const az = (azimuthDeg * Math.PI) / 180;
  const mLat = 111_320;
  const mLon = 111_320 * Math.cos((at.lat * Math.PI) / 180);
  const points = [];
  for (let i = 0; i < 48; i++) {
    const t = (2 * Math.PI * i) / 48;
    const x = major * Math.cos(t);
    const y = minor * Math.sin(t);
    const east = x * Math.sin(az) + y * Math.cos(az);
    const north = x * Math.cos(az) - y * Math.sin(az);
    points.push([at.lat + north / mLat, at.lon + east / mLon]);
  }
  return points;
}

export class TruceMap {
  constructor(element, onSelect) {
    this.onSelect = onSelect;
    this.map = L.map(element, { zoomSnap: 0.25, preferCanvas: false, worldCopyJump: false })
      .setView([48.3, 37.0], 6);
    for (const [name, z] of [['base', 200], ['agreement', 350], ['sensors', 420], ['events', 440], ['findings', 460]]) {
      this.map.createPane(name).style.zIndex = z;
    }
    this.layers = {
      areas: L.layerGroup().addTo(this.map),
      zones: L.layerGroup().addTo(this.map),
      line: L.layerGroup().addTo(this.map),
      sites: L.layerGroup().addTo(this.map),
      sensors: L.layerGroup().addTo(this.map),
      events: L.layerGroup().addTo(this.map),
      findings: L.layerGroup().addTo(this.map),
    };
    this.map.attributionControl.setPrefix(false);
    this.map.attributionControl.addAttribution('Basemap: Natural Earth (world-atlas)');
    L.control.scale({ imperial: false }).addTo(this.map);
  }

  basemap(countries) {
    L.geoJSON(countries, {
      pane: 'base', interactive: false,
      style: { color: '#ffffff', weight: 1, fillColor: '#ece8dc', fillOpacity: 1, className: 'truce-country' },
    }).addTo(this.map);
  }

  agreement(geo) {
    this.rules = new Map((geo.clauses || []).map((c) => [c.id, c.rule]));
    const parties = (geo.parties || []).map((p) => p.id);
    const partyColour = (id) => PARTY_COLOURS[Math.max(0, parties.indexOf(id)) % PARTY_COLOURS.length];
    let lineBounds = null;
    for (const f of geo.features) {
      const p = f.properties;
      if (p.layer === 'area') {
        L.geoJSON(f, { pane: 'agreement', interactive: false,
          style: { stroke: false, fillColor: partyColour(p.party), fillOpacity: 0.07, className: 'truce-area' } })
          .addTo(this.layers.areas);
      } else if (p.layer === 'zone') {
        L.geoJSON(f, { pane: 'agreement',
          style: { color: ZONE_COLOURS[p.kind] || '#555', weight: 1.2, dashArray: '4 4', opacity: 0.8,
            className: `truce-zone truce-zone-${p.kind}` } })
          .bindTooltip(`${p.id} (${p.side}, ${(p.distance_m / 1000).toFixed(0)} km)`, { sticky: true })
          .addTo(this.layers.zones);
      } else if (p.layer === 'line') {
        const layer = L.geoJSON(f, { pane: 'agreement',
          style: { color: '#b00020', weight: 3, className: 'truce-contact-line' } })
          .bindTooltip('contact line', { sticky: true })
          .addTo(this.layers.line);
        lineBounds = layer.getBounds();
      } else if (p.layer === 'sector') {
        // Where a monitoring sector begins along the line (bulletins count by sector).
        const [lon, lat] = f.geometry.coordinates;
        const km = ((p.until_m - p.from_m) / 1000).toFixed(0);
        L.circleMarker([lat, lon], { pane: 'agreement', radius: 3, color: '#37474f', weight: 2,
          fillColor: '#37474f', fillOpacity: 1, className: 'truce-sector' })
          .bindTooltip(`${p.name} sector (${km} km of the line)`, { permanent: true, direction: 'right',
            className: 'truce-sector-label' })
          .addTo(this.layers.line);
      } else if (p.layer === 'site') {
        const [lon, lat] = f.geometry.type === 'Point' ? f.geometry.coordinates : [null, null];
        const label = `${p.name} (${p.category})`;
        if (lat !== null) {
          if (p.radius_m) {
            L.circle([lat, lon], { pane: 'agreement', radius: p.radius_m, color: '#00695c', weight: 1,
              fillOpacity: 0.15, className: 'truce-site-area', interactive: false }).addTo(this.layers.sites);
          }
          L.circleMarker([lat, lon], { pane: 'agreement', radius: 4, color: '#00695c', weight: 2,
            fillColor: '#ffffff', fillOpacity: 1, className: 'truce-site' })
            .bindTooltip(label).addTo(this.layers.sites);
        } else {
          L.geoJSON(f, { pane: 'agreement', style: { color: '#00695c', weight: 1, className: 'truce-site' } })
            .bindTooltip(label).addTo(this.layers.sites);
        }
      }
    }
    if (lineBounds) this.map.fitBounds(lineBounds.pad(0.15));
  }

  // A legend of what the colours mean: finding states, event types, sensor operators.
  legend(operators) {
    this.legendControl?.remove();
    const control = L.control({ position: 'bottomleft' });
    control.onAdd = () => {
      const div = L.DomUtil.create('div', 'truce-legend');
      const section = (title, entries, shape) => {
        const h = L.DomUtil.create('div', 'truce-legend-title', div);
        h.textContent = title;
        for (const [name, colour] of entries) {
          const row = L.DomUtil.create('div', '', div);
          const swatch = L.DomUtil.create('span', `truce-swatch ${shape}`, row);
          swatch.style.borderColor = colour;
          if (shape !== 'ring') swatch.style.background = colour;
          row.append(` ${name.replace(/_/g, ' ')}`);
        }
      };
      section('findings', Object.entries(STATE_COLOURS), 'ring');
      section('clauses', Object.entries(RULE_COLOURS), 'dot');
      section('events', Object.entries(EVENT_COLOURS), 'dot');
      section('sensors', operators.map((o) => [o, this.operatorColour(o)]), 'dot');
      section('sensor health', Object.entries(HEALTH_COLOURS), 'ring');
      L.DomEvent.disableClickPropagation(div);
      return div;
    };
    this.legendControl = control.addTo(this.map);
  }

  // Each operator its own colour of the palette, in alphabetical order.
  operatorColour(operator) {
    const i = this.operators?.indexOf(operator) ?? -1;
    return i >= 0 ? PALETTE[i % PALETTE.length] : colourOf(operator);
  }

  sensors(list) {
    this.operators = [...new Set(list.map((s) => s.operator))].sort();
    this.legend(this.operators);
    this.layers.sensors.clearLayers();
    this.sensorMarkers = new Map();
    for (const s of list) {
      if (!s.position) continue;
      const active = s.status === 'active';
      const marker = L.circleMarker([s.position.lat, s.position.lon], {
        pane: 'sensors', radius: 3.5, weight: 1, color: active ? '#222' : '#999',
        fillColor: active ? this.operatorColour(s.operator) : '#ffffff', fillOpacity: active ? 0.9 : 0.3,
        className: `truce-sensor truce-sensor-${s.status}`,
      }).bindTooltip(`${s.id} · ${s.kind} · ${s.operator}${active ? '' : ' (revoked)'}`)
        .on('click', () => this.onSelect('sensor', s.id))
        .addTo(this.layers.sensors);
      this.sensorMarkers.set(s.id, { marker, tooltip: marker.getTooltip().getContent(), colour: active ? '#222' : '#999' });
    }
  }

  // Marks the sensors fusion quarantines (a red ring) or corrects (an orange one), from
  // their health by id.
  health(byId) {
    for (const [id, { marker, tooltip, colour }] of this.sensorMarkers || []) {
      const h = byId.get(id);
      const look = h?.quarantined ? 'quarantined' : h?.correction ? 'corrected' : '';
      const path = marker.getElement();
      path?.classList.toggle('truce-sensor-quarantined', look === 'quarantined');
      path?.classList.toggle('truce-sensor-corrected', look === 'corrected');
      marker.setStyle(look ? { color: HEALTH_COLOURS[look], weight: 2.5, radius: 5 } : { color: colour, weight: 1, radius: 3.5 });
      marker.setTooltipContent(look ? `${tooltip} · ${look}: ${h.reason}` : tooltip);
    }
  }

  // Draws the events and findings given (already filtered). Markers are kept by id and
  // replaced only when what they show changes, so that a marker being clicked is not
  // redrawn under the pointer while results stream in.
  results(events, findings, showEllipses) {
    this.drawn ??= { events: new Map(), findings: new Map() };
    const sync = (drawn, group, items, look, make) => {
      const wanted = new Map(items.map((x) => [x.id, x]));
      for (const [id, d] of drawn) {
        if (!wanted.has(id) || d.look !== look(wanted.get(id))) {
          for (const layer of d.layers) group.removeLayer(layer);
          drawn.delete(id);
        }
      }
      for (const [id, x] of wanted) {
        if (drawn.has(id)) continue;
        const layers = make(x);
        for (const layer of layers) group.addLayer(layer);
        drawn.set(id, { look: look(x), layers });
      }
    };
    sync(this.drawn.events, this.layers.events, events,
      (e) => `${e.type} ${e.location.lat} ${e.location.lon} ${(e.ellipse_90 || []).join(' ')} ${showEllipses}`,
      (e) => {
        const colour = EVENT_COLOURS[e.type] || '#333';
        const layers = [];
        if (showEllipses && e.ellipse_90 && e.ellipse_90[0] > 0) {
          layers.push(L.polygon(ellipse(e.location, e.ellipse_90), { pane: 'events', color: colour, weight: 1,
            fillOpacity: 0.08, className: 'truce-ellipse', interactive: false }));
        }
        layers.push(L.circleMarker([e.location.lat, e.location.lon], { pane: 'events', radius: 4, weight: 1,
          color: '#fff', fillColor: colour, fillOpacity: 0.95, className: `truce-event truce-event-${e.type}` })
          .bindTooltip(`${e.type} · ${e.origin_time}`)
          .on('click', () => this.onSelect('event', e.id)));
        return layers;
      });
    sync(this.drawn.findings, this.layers.findings, findings,
      (f) => `${f.state} ${f.location.lat} ${f.location.lon} ${f.attribution.party} ${!!f.provisional}`,
      (f) => {
        // A provisional finding (its event still open) is drawn dashed until it is final.
        const state = f.provisional ? `${f.state}, provisional` : f.state;
        const marker = L.circleMarker([f.location.lat, f.location.lon], { pane: 'findings', radius: 9,
          weight: 3, color: STATE_COLOURS[f.state] || '#000',
          fillColor: RULE_COLOURS[this.rules?.get(f.clause)] || '#ffffff', fillOpacity: 0.55,
          dashArray: f.provisional ? '3 3' : null,
          className: `truce-finding truce-finding-${f.state}${f.provisional ? ' truce-provisional' : ''}` })
          .bindTooltip(`clause ${f.clause} · ${f.attribution.party || 'undetermined'} · ${state}`)
          .on('click', () => this.onSelect('finding', f.id))
          .on('add', () => marker.getElement()?.setAttribute('data-finding', f.id));
        return [marker];
      });
  }

  show(layer, visible) {
    const group = this.layers[layer];
    if (!group) return;
    if (visible && !this.map.hasLayer(group)) group.addTo(this.map);
    if (!visible && this.map.hasLayer(group)) group.remove();
  }

  focus(location) {
    this.map.panTo([location.lat, location.lon]);
  }
}
