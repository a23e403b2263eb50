// Builds the dashboard into one directory the server embeds: index.html, app.js, app.css
// and basemap.json (Natural Earth countries from world-atlas, cut to the region the map
// shows). Usage: node build.mjs [OUTDIR]   (default: dist)
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { feature } from 'topojson-client';

const out = process.argv[2] || 'dist';
mkdirSync(out, { recursive: true });

await build({
  entryPoints: { app: 'src/main.js' },
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'iife',
  target: ['chrome110', 'firefox110', 'safari16'],
  outdir: out,
  loader: { '.png': 'dataurl', '.svg': 'dataurl' },
  logLevel: 'warning',
});
copyFileSync('src/index.html', join(out, 'index.html'));

// The basemap: 1:50m Natural Earth countries, those that reach into a box around Ukraine
// (the map's whole extent), with rounded coordinates.
const world = JSON.parse(readFileSync('node_modules/world-atlas/countries-50m.json', 'utf8'));
const box = [12, 38, 56, 62];
const inBox = ([lon, lat]) => lon >= box[0] && lon <= box[2] && lat >= box[1] && lat <= box[3];
const round = (c) => (typeof c[0] === 'number' ? [+c[0].toFixed(3), +c[1].toFixed(3)] : c.map(round));
const flat = (c) => (typeof c[0] === 'number' ? [c] : c.flatMap(flat));
const countries = feature(world, world.objects.countries).features
  .filter((f) => f.geometry && flat(f.geometry.coordinates).some(inBox))
  .map((f) => ({
    type: 'Feature',
    properties: { name: f.properties.name },
    geometry: { type: f.geometry.type, coordinates: round(f.geometry.coordinates) },
  }));
writeFileSync(join(out, 'basemap.json'), JSON.stringify({ type: 'FeatureCollection', features: countries }));
console.log(`dashboard built into ${out}: ${countries.length} countries in the basemap`);
