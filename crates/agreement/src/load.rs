//! Reading an agreement file (TOML, with GeoJSON geometry inline or in referenced files) and
//! validating it, collecting every problem with its file, line and field.

use std::path::{Path, PathBuf};

use geo::{Coord, LineString, MultiPolygon, Polygon, Validation};
use truce_model::{Timestamp, WeaponClass};

use crate::areas::{Areas, PartyArea, cut_border};
use crate::geodesy::{Earth, LonLat, Polyline};
use crate::model::{
    Agreement, Clause, DEFAULT_ATTRIBUTION_THRESHOLD, MAX_SECTOR_START_M, Party, Rule, Sector,
    Site, SiteShape, Window, Zone, ZoneKind,
};
use crate::source::{Node, Problem, SourceFile, Span, Value, parse_json, parse_toml};

/// Why an agreement could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} problem(s) in the agreement:\n{}", .0.len(), .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

impl Agreement {
    /// Loads and validates the agreement at `path`; referenced GeoJSON files are read
    /// relative to its directory.
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name)).map_err(|e| format!("cannot read {name}: {e}"))
        };
        Self::parse(&path.display().to_string(), &text, &read).map_err(LoadError::Invalid)
    }

    /// Parses and validates agreement text. `read` returns the text of a referenced file.
    pub fn parse(
        name: &str,
        text: &str,
        read: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<Self, Vec<Problem>> {
        let mut loader = Loader {
            files: vec![SourceFile {
                name: name.to_string(),
                text: text.to_string(),
            }],
            problems: Vec::new(),
            read,
        };
        let (root, errors) = parse_toml(0, text);
        for (span, message) in errors {
            loader.problem(&span, "", format!("TOML syntax: {message}"));
        }
        let agreement = loader.agreement(&root);
        match agreement {
            Some(a) if loader.problems.is_empty() => Ok(a),
            _ => {
                let mut problems = loader.problems;
                problems
                    .sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
                problems.dedup();
                Err(problems)
            }
        }
    }
}

enum Shape {
    Lines(Vec<Vec<LonLat>>),
    Polygons(MultiPolygon),
}

struct Loader<'r> {
    files: Vec<SourceFile>,
    problems: Vec<Problem>,
    read: &'r dyn Fn(&str) -> Result<String, String>,
}

/// The place of `node[key]`, or an empty span when it is absent.
fn span_of(node: &Node, key: &str) -> Span {
    node.get(key).map(|v| v.span.clone()).unwrap_or_default()
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Loader<'_> {
    fn problem(&mut self, span: &Span, field: &str, message: impl Into<String>) {
        let file = &self.files[span.file];
        let (line, column) = file.line_col(span.range.start);
        self.problems.push(Problem {
            file: file.name.clone(),
            line,
            column,
            field: field.to_string(),
            message: message.into(),
        });
    }

    /// Checks that `node` is a table with only `allowed` keys.
    fn keys(&mut self, node: &Node, path: &str, allowed: &[&str]) -> bool {
        let Some(entries) = node.as_table() else {
            self.problem(
                &node.span,
                path,
                format!("must be a table, not {}", node.value.type_name()),
            );
            return false;
        };
        for (key, value) in entries {
            if !allowed.contains(&key.as_str()) {
                self.problem(
                    &value.span,
                    &join(path, key),
                    format!("unknown field (expected one of: {})", allowed.join(", ")),
                );
            }
        }
        true
    }

    /// Reports `id` as a duplicate when `exists`; returns `exists`.
    fn duplicate(&mut self, node: &Node, path: &str, what: &str, id: &str, exists: bool) -> bool {
        if exists {
            let span = span_of(node, "id");
            self.problem(
                &span,
                &join(path, "id"),
                format!("duplicate {what} id {id:?}"),
            );
        }
        exists
    }

    fn missing(&mut self, node: &Node, path: &str, key: &str) {
        self.problem(&node.span, &join(path, key), "missing");
    }

    fn string(&mut self, node: &Node, path: &str, key: &str, required: bool) -> Option<String> {
        match node.get(key) {
            None => {
                if required {
                    self.missing(node, path, key);
                }
                None
            }
            Some(v) => match &v.value {
                Value::Str(s) if !s.trim().is_empty() => Some(s.clone()),
                Value::Str(_) => {
                    self.problem(&v.span, &join(path, key), "must not be empty");
                    None
                }
                other => {
                    let message = format!("must be a string, not {}", other.type_name());
                    self.problem(&v.span, &join(path, key), message);
                    None
                }
            },
        }
    }

    fn number(&mut self, node: &Node, path: &str, key: &str, required: bool) -> Option<f64> {
        match node.get(key) {
            None => {
                if required {
                    self.missing(node, path, key);
                }
                None
            }
            Some(v) => match v.as_number() {
                Some(n) if n.is_finite() => Some(n),
                _ => {
                    let message = format!("must be a finite number, not {}", v.value.type_name());
                    self.problem(&v.span, &join(path, key), message);
                    None
                }
            },
        }
    }

    /// A distance or radius: a number greater than zero.
    fn positive(&mut self, node: &Node, path: &str, key: &str, required: bool) -> Option<f64> {
        let n = self.number(node, path, key, required)?;
        if n <= 0.0 {
            let span = span_of(node, key);
            let what = if n < 0.0 { "negative" } else { "zero" };
            self.problem(
                &span,
                &join(path, key),
                format!("must be greater than zero, not {what} ({n})"),
            );
            return None;
        }
        Some(n)
    }

    fn time(&mut self, node: &Node, path: &str, key: &str, required: bool) -> Option<Timestamp> {
        let v = match node.get(key) {
            None => {
                if required {
                    self.missing(node, path, key);
                }
                return None;
            }
            Some(v) => v,
        };
        let parsed = v
            .as_str()
            .map(|s| Timestamp::parse(s).map_err(|e| e.to_string()));
        match parsed {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                self.problem(
                    &v.span,
                    &join(path, key),
                    format!("not an RFC 3339 UTC time: {e}"),
                );
                None
            }
            None => {
                let message = format!("must be an RFC 3339 UTC time, not {}", v.value.type_name());
                self.problem(&v.span, &join(path, key), message);
                None
            }
        }
    }

    /// A list of strings, each with its place.
    fn strings(&mut self, node: &Node, path: &str, key: &str) -> Vec<(String, Span, String)> {
        let Some(v) = node.get(key) else {
            return Vec::new();
        };
        let Some(items) = v.as_array() else {
            let message = format!("must be an array of strings, not {}", v.value.type_name());
            self.problem(&v.span, &join(path, key), message);
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let field = format!("{}[{i}]", join(path, key));
            match item.as_str() {
                Some(s) => out.push((s.to_string(), item.span.clone(), field)),
                None => self.problem(&item.span, &field, "must be a string"),
            }
        }
        out
    }

    /// An array of tables, each with its path.
    fn tables<'n>(&mut self, node: &'n Node, path: &str, key: &str) -> Vec<(&'n Node, String)> {
        let Some(v) = node.get(key) else {
            return Vec::new();
        };
        let Some(items) = v.as_array() else {
            self.problem(
                &v.span,
                &join(path, key),
                "must be an array of tables ([[...]])",
            );
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| (item, format!("{}[{i}]", join(path, key))))
            .collect()
    }

    fn agreement(&mut self, root: &Node) -> Option<Agreement> {
        self.keys(
            root,
            "",
            &[
                "agreement",
                "parties",
                "contact_line",
                "areas",
                "zones",
                "sites",
                "windows",
                "clauses",
                "sectors",
            ],
        );
        let head = self.required_table(root, "", "agreement");
        let (mut id, mut title, mut entry_into_force) = (None, None, None);
        let mut threshold = DEFAULT_ATTRIBUTION_THRESHOLD;
        if let Some(head) = head {
            self.keys(
                head,
                "agreement",
                &["id", "title", "entry_into_force", "attribution_threshold"],
            );
            id = self.string(head, "agreement", "id", true);
            title = self.string(head, "agreement", "title", false);
            entry_into_force = self.time(head, "agreement", "entry_into_force", true);
            if let Some(t) = self.number(head, "agreement", "attribution_threshold", false) {
                if t > 0.5 && t <= 1.0 {
                    threshold = t;
                } else {
                    let span = span_of(head, "attribution_threshold");
                    self.problem(
                        &span,
                        "agreement.attribution_threshold",
                        "must be in (0.5, 1]",
                    );
                }
            }
        }
        let parties = self.parties(root);
        let party_ids: Vec<String> = parties.iter().map(|p| p.id.clone()).collect();
        let earth = Earth::default();
        let line = self.contact_line(root);
        let areas = self.areas(
            root,
            &earth,
            line.as_ref().map(Polyline::coords),
            &party_ids,
        );
        let zones = self.zones(root, &party_ids);
        let sites = self.sites(root);
        let windows = self.windows(root, &sites);
        let clauses = self.clauses(root, &zones, &sites, &windows);
        let sectors = self.sectors(root, &earth, line.as_ref());
        let line_source = root
            .get("contact_line")
            .and_then(|n| n.get("source"))
            .and_then(Node::as_str)
            .map(str::to_string);
        Some(Agreement {
            id: id?,
            title: title.unwrap_or_default(),
            entry_into_force: entry_into_force?,
            attribution_threshold: threshold,
            parties,
            line: line?,
            line_source,
            areas: areas?,
            zones,
            sites,
            windows,
            clauses,
            sectors,
            earth,
        })
    }

    fn required_table<'n>(&mut self, node: &'n Node, path: &str, key: &str) -> Option<&'n Node> {
        match node.get(key) {
            None => {
                self.missing(node, path, key);
                None
            }
            Some(v) if v.as_table().is_some() => Some(v),
            Some(v) => {
                self.problem(&v.span, &join(path, key), "must be a table");
                None
            }
        }
    }

    fn parties(&mut self, root: &Node) -> Vec<Party> {
        let mut parties: Vec<Party> = Vec::new();
        let tables = self.tables(root, "", "parties");
        if tables.len() < 2 {
            self.problem(
                &root.span,
                "parties",
                "an agreement needs at least two parties",
            );
        }
        for (node, path) in tables {
            if !self.keys(node, &path, &["id", "name"]) {
                continue;
            }
            let id = self.string(node, &path, "id", true);
            let name = self.string(node, &path, "name", false);
            let Some(id) = id else { continue };
            let span = span_of(node, "id");
            if id == crate::attribution::NONE
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                self.problem(
                    &span,
                    &join(&path, "id"),
                    "party ids are letters, digits, '-' or '_', and not \"none\"",
                );
            } else if parties.iter().any(|p| p.id == id) {
                self.problem(
                    &span,
                    &join(&path, "id"),
                    format!("duplicate party id {id:?}"),
                );
            } else {
                parties.push(Party {
                    name: name.unwrap_or_else(|| id.clone()),
                    id,
                });
            }
        }
        parties
    }

    fn party_ref(&mut self, span: &Span, field: &str, id: &str, parties: &[String]) -> bool {
        if parties.iter().any(|p| p == id) {
            true
        } else {
            self.problem(
                span,
                field,
                format!("unknown party {id:?} (parties: {})", parties.join(", ")),
            );
            false
        }
    }

    fn contact_line(&mut self, root: &Node) -> Option<Polyline> {
        let node = self.required_table(root, "", "contact_line")?;
        self.keys(node, "contact_line", &["geometry", "source"]);
        let Some(geometry) = node.get("geometry") else {
            self.missing(node, "contact_line", "geometry");
            return None;
        };
        let shape = self.shape(geometry, "contact_line.geometry")?;
        let lines = match shape {
            Shape::Lines(lines) => lines,
            Shape::Polygons(_) => {
                self.problem(
                    &geometry.span,
                    "contact_line.geometry",
                    "must be a LineString, not a polygon",
                );
                return None;
            }
        };
        if lines.len() != 1 {
            self.problem(
                &geometry.span,
                "contact_line.geometry",
                format!("must be one line, not {}", lines.len()),
            );
            return None;
        }
        let coords = lines.into_iter().next()?;
        if let Some((i, j)) = self_crossing(&coords) {
            self.problem(
                &geometry.span,
                "contact_line.geometry",
                format!("the line crosses itself (segments {i} and {j})"),
            );
            return None;
        }
        Some(Polyline::new(coords))
    }

    fn areas(
        &mut self,
        root: &Node,
        earth: &Earth,
        line: Option<&[LonLat]>,
        parties: &[String],
    ) -> Option<Areas> {
        let node = self.required_table(root, "", "areas")?;
        self.keys(
            node,
            "areas",
            &[
                "derive_from_border",
                "left_of_line",
                "right_of_line",
                "party",
            ],
        );
        let mut shapes: Vec<(String, MultiPolygon)> = Vec::new();
        if let Some(border) = node.get("derive_from_border") {
            let left = self.string(node, "areas", "left_of_line", true);
            let right = self.string(node, "areas", "right_of_line", true);
            let border_shape = match self.shape(border, "areas.derive_from_border") {
                Some(Shape::Polygons(p)) => Some(p),
                Some(Shape::Lines(_)) => {
                    self.problem(
                        &border.span,
                        "areas.derive_from_border",
                        "must be a Polygon or MultiPolygon",
                    );
                    None
                }
                None => None,
            };
            let mut sides_ok = true;
            for key in ["left_of_line", "right_of_line"] {
                if let (Some(v), Some(id)) = (node.get(key), node.get(key).and_then(Node::as_str)) {
                    let span = v.span.clone();
                    sides_ok &= self.party_ref(&span, &join("areas", key), id, parties);
                }
            }
            if let (Some(l), Some(r)) = (&left, &right)
                && l == r
            {
                self.problem(
                    &node.span,
                    "areas.right_of_line",
                    "the two sides must be different parties",
                );
                sides_ok = false;
            }
            // Without a valid line there is nothing to cut (its problems are reported).
            if let (Some(border_shape), Some(left), Some(right), true, Some(line)) =
                (border_shape, left, right, sides_ok, line)
            {
                match cut_border(earth, &border_shape, line) {
                    Ok((l, r)) => {
                        shapes.push((left, l));
                        shapes.push((right, r));
                    }
                    Err(e) => self.problem(&border.span, "areas.derive_from_border", e),
                }
            }
        } else {
            for key in ["left_of_line", "right_of_line"] {
                if let Some(v) = node.get(key) {
                    let span = v.span.clone();
                    self.problem(&span, &join("areas", key), "only with derive_from_border");
                }
            }
        }
        // Explicit polygons: they take precedence over derived sides.
        let mut explicit: Vec<(String, MultiPolygon)> = Vec::new();
        for (item, path) in self.tables(node, "areas", "party") {
            if !self.keys(item, &path, &["party", "geometry", "note"]) {
                continue;
            }
            let party = self.string(item, &path, "party", true);
            if let (Some(p), Some(v)) = (&party, item.get("party")) {
                let span = v.span.clone();
                if !self.party_ref(&span, &join(&path, "party"), p, parties) {
                    continue;
                }
            }
            let Some(geometry) = item.get("geometry") else {
                self.missing(item, &path, "geometry");
                continue;
            };
            match (party, self.shape(geometry, &join(&path, "geometry"))) {
                (Some(party), Some(Shape::Polygons(p))) => explicit.push((party, p)),
                (_, Some(Shape::Lines(_))) => self.problem(
                    &geometry.span,
                    &join(&path, "geometry"),
                    "must be a Polygon or MultiPolygon",
                ),
                _ => {}
            }
        }
        use geo::BooleanOps;
        let mut result: Vec<(String, MultiPolygon)> = Vec::new();
        for party in parties {
            let mine: Vec<&MultiPolygon> = explicit
                .iter()
                .filter(|(p, _)| p == party)
                .map(|(_, s)| s)
                .collect();
            let others: Vec<&MultiPolygon> = explicit
                .iter()
                .filter(|(p, _)| p != party)
                .map(|(_, s)| s)
                .collect();
            let mut shape = MultiPolygon::new(vec![]);
            for (_, derived) in shapes.iter().filter(|(p, _)| p == party) {
                let mut part = derived.clone();
                for other in &others {
                    part = part.difference(*other);
                }
                shape = shape.union(&part);
            }
            for m in mine {
                shape = shape.union(m);
            }
            if shape.0.is_empty() {
                self.problem(&node.span, "areas", format!("party {party:?} has no area"));
            }
            result.push((party.clone(), shape));
        }
        // Explicit polygons of different parties must not overlap.
        for (i, (a, sa)) in explicit.iter().enumerate() {
            for (b, sb) in explicit.iter().skip(i + 1) {
                use geo::Area;
                if a != b && sa.intersection(sb).unsigned_area() > 1e-9 {
                    self.problem(
                        &node.span,
                        "areas.party",
                        format!("the areas of {a} and {b} overlap"),
                    );
                }
            }
        }
        Some(Areas {
            parties: result
                .into_iter()
                .map(|(p, s)| PartyArea::new(p, s))
                .collect(),
        })
    }

    fn zones(&mut self, root: &Node, parties: &[String]) -> Vec<Zone> {
        let mut zones: Vec<Zone> = Vec::new();
        for (node, path) in self.tables(root, "", "zones") {
            if !self.keys(
                node,
                &path,
                &["id", "kind", "weapon_class", "distance_km", "sides", "note"],
            ) {
                continue;
            }
            let id = self.string(node, &path, "id", true);
            let kind_text = self.string(node, &path, "kind", true);
            let kind = kind_text.as_deref().and_then(|k| {
                let kind = ZoneKind::ALL.into_iter().find(|z| z.as_str() == k);
                if kind.is_none() {
                    let span = span_of(node, "kind");
                    let names: Vec<&str> = ZoneKind::ALL.iter().map(ZoneKind::as_str).collect();
                    self.problem(
                        &span,
                        &join(&path, "kind"),
                        format!(
                            "unknown zone kind {k:?} (expected one of: {})",
                            names.join(", ")
                        ),
                    );
                }
                kind
            });
            let class_text = self.string(node, &path, "weapon_class", false);
            let class_span = span_of(node, "weapon_class");
            let weapon_class = class_text.as_deref().and_then(|c| {
                let class = WeaponClass::parse(c);
                if class.is_none() {
                    let names: Vec<&str> =
                        WeaponClass::ALL.iter().map(WeaponClass::as_str).collect();
                    self.problem(
                        &class_span,
                        &join(&path, "weapon_class"),
                        format!(
                            "unknown weapon class {c:?} (expected one of: {})",
                            names.join(", ")
                        ),
                    );
                }
                class
            });
            match (kind, class_text.is_some()) {
                (Some(ZoneKind::Withdrawal), false) => self.missing(node, &path, "weapon_class"),
                (Some(k), true) if k != ZoneKind::Withdrawal => self.problem(
                    &class_span,
                    &join(&path, "weapon_class"),
                    "only withdrawal zones have a weapon class",
                ),
                _ => {}
            }
            let distance = self.positive(node, &path, "distance_km", true);
            let mut sides = Vec::new();
            if node.get("sides").is_some() {
                for (side, span, field) in self.strings(node, &path, "sides") {
                    if self.party_ref(&span, &field, &side, parties) {
                        sides.push(side);
                    }
                }
            } else {
                sides = parties.to_vec();
            }
            let (Some(id), Some(kind), Some(distance)) = (id, kind, distance) else {
                continue;
            };
            if self.duplicate(node, &path, "zone", &id, zones.iter().any(|x| x.id == id)) {
                continue;
            }
            zones.push(Zone {
                id,
                kind,
                weapon_class,
                distance_m: distance * 1000.0,
                sides,
            });
        }
        zones
    }

    fn sites(&mut self, root: &Node) -> Vec<Site> {
        let mut sites: Vec<Site> = Vec::new();
        for (node, path) in self.tables(root, "", "sites") {
            if !self.keys(
                node,
                &path,
                &[
                    "id", "name", "category", "position", "radius_m", "geometry", "source",
                ],
            ) {
                continue;
            }
            let id = self.string(node, &path, "id", true);
            let name = self.string(node, &path, "name", false);
            let category = self.string(node, &path, "category", true);
            if let Some(c) = &category
                && !Site::CATEGORIES.contains(&c.as_str())
            {
                let span = span_of(node, "category");
                self.problem(
                    &span,
                    &join(&path, "category"),
                    format!(
                        "unknown category {c:?} (expected one of: {})",
                        Site::CATEGORIES.join(", ")
                    ),
                );
            }
            let source = self.string(node, &path, "source", false);
            let shape = match (node.get("position"), node.get("geometry")) {
                (Some(position), None) => {
                    let centre = self.position_table(position, &join(&path, "position"));
                    let radius = self.positive(node, &path, "radius_m", true);
                    centre
                        .zip(radius)
                        .map(|(centre, radius_m)| SiteShape::Circle { centre, radius_m })
                }
                (None, Some(geometry)) => match self.shape(geometry, &join(&path, "geometry")) {
                    Some(Shape::Polygons(shape)) => {
                        use geo::Centroid;
                        let centre = shape
                            .centroid()
                            .map(|c| [c.x(), c.y()])
                            .unwrap_or([0.0, 0.0]);
                        Some(SiteShape::Polygon { shape, centre })
                    }
                    Some(Shape::Lines(_)) => {
                        self.problem(
                            &geometry.span,
                            &join(&path, "geometry"),
                            "must be a Polygon or MultiPolygon",
                        );
                        None
                    }
                    None => None,
                },
                _ => {
                    self.problem(
                        &node.span,
                        &path,
                        "a site has either position and radius_m, or geometry",
                    );
                    None
                }
            };
            let (Some(id), Some(category), Some(shape)) = (id, category, shape) else {
                continue;
            };
            if self.duplicate(node, &path, "site", &id, sites.iter().any(|x| x.id == id)) {
                continue;
            }
            sites.push(Site {
                name: name.unwrap_or_else(|| id.clone()),
                id,
                category,
                shape,
                source,
            });
        }
        sites
    }

    fn windows(&mut self, root: &Node, sites: &[Site]) -> Vec<Window> {
        let mut windows: Vec<Window> = Vec::new();
        for (node, path) in self.tables(root, "", "windows") {
            if !self.keys(
                node,
                &path,
                &[
                    "id",
                    "kind",
                    "sites",
                    "position",
                    "radius_km",
                    "from",
                    "until",
                    "note",
                ],
            ) {
                continue;
            }
            let id = self.string(node, &path, "id", true);
            if let Some(kind) = self.string(node, &path, "kind", false)
                && kind != "silence"
            {
                let span = span_of(node, "kind");
                self.problem(
                    &span,
                    &join(&path, "kind"),
                    format!("unknown window kind {kind:?} (expected: silence)"),
                );
            }
            let from = self.time(node, &path, "from", true);
            let until = self.time(node, &path, "until", true);
            if let (Some(f), Some(u)) = (from, until)
                && u <= f
            {
                let span = span_of(node, "until");
                self.problem(&span, &join(&path, "until"), "must be after `from`");
            }
            let radius = self.positive(node, &path, "radius_km", true);
            let mut centres = Vec::new();
            for (site, span, field) in self.strings(node, &path, "sites") {
                match sites.iter().find(|s| s.id == site) {
                    Some(s) => centres.push(s.centre()),
                    None => self.problem(&span, &field, format!("unknown site {site:?}")),
                }
            }
            if let Some(position) = node.get("position")
                && let Some(c) = self.position_table(position, &join(&path, "position"))
            {
                centres.push(c);
            }
            if node.get("sites").is_none() && node.get("position").is_none() {
                self.problem(&node.span, &path, "a window needs `sites` or `position`");
            }
            let note = self.string(node, &path, "note", false);
            let (Some(id), Some(from), Some(until), Some(radius)) = (id, from, until, radius)
            else {
                continue;
            };
            if self.duplicate(
                node,
                &path,
                "window",
                &id,
                windows.iter().any(|x| x.id == id),
            ) {
                continue;
            }
            windows.push(Window {
                id,
                from,
                until,
                centres,
                radius_m: radius * 1000.0,
                note,
            });
        }
        windows
    }

    fn clauses(
        &mut self,
        root: &Node,
        zones: &[Zone],
        sites: &[Site],
        windows: &[Window],
    ) -> Vec<Clause> {
        let mut clauses: Vec<Clause> = Vec::new();
        let tables = self.tables(root, "", "clauses");
        if tables.is_empty() {
            self.problem(
                &root.span,
                "clauses",
                "an agreement needs at least one clause",
            );
        }
        for (node, path) in tables {
            if !self.keys(
                node,
                &path,
                &["id", "text", "rule", "zones", "sites", "windows"],
            ) {
                continue;
            }
            let id = self.string(node, &path, "id", true);
            let text = self.string(node, &path, "text", true);
            let rule = self.string(node, &path, "rule", true).and_then(|r| {
                let rule = Rule::ALL.into_iter().find(|k| k.as_str() == r);
                if rule.is_none() {
                    let span = span_of(node, "rule");
                    let names: Vec<&str> = Rule::ALL.iter().map(Rule::as_str).collect();
                    self.problem(
                        &span,
                        &join(&path, "rule"),
                        format!("unknown rule {r:?} (expected one of: {})", names.join(", ")),
                    );
                }
                rule
            });
            let mut zone_ids = Vec::new();
            for (zone, span, field) in self.strings(node, &path, "zones") {
                match (
                    zones.iter().find(|z| z.id == zone),
                    rule.and_then(|r| r.zone_kind()),
                ) {
                    (None, _) => self.problem(&span, &field, format!("unknown zone {zone:?}")),
                    (Some(_), None) if rule.is_some() => {
                        self.problem(&span, &field, "this rule takes no zones")
                    }
                    (Some(z), Some(kind)) if z.kind != kind => self.problem(
                        &span,
                        &field,
                        format!(
                            "zone {zone:?} is a {} zone; this rule needs {} zones",
                            z.kind.as_str(),
                            kind.as_str()
                        ),
                    ),
                    _ => zone_ids.push(zone),
                }
            }
            let mut site_ids = Vec::new();
            for (site, span, field) in self.strings(node, &path, "sites") {
                if sites.iter().any(|s| s.id == site) {
                    site_ids.push(site);
                } else {
                    self.problem(&span, &field, format!("unknown site {site:?}"));
                }
            }
            let mut window_ids = Vec::new();
            for (window, span, field) in self.strings(node, &path, "windows") {
                if windows.iter().any(|w| w.id == window) {
                    window_ids.push(window);
                } else {
                    self.problem(&span, &field, format!("unknown window {window:?}"));
                }
            }
            let (Some(id), Some(text), Some(rule)) = (id, text, rule) else {
                continue;
            };
            if self.duplicate(
                node,
                &path,
                "clause",
                &id,
                clauses.iter().any(|x| x.id == id),
            ) {
                continue;
            }
            clauses.push(Clause {
                id,
                text,
                rule,
                zones: zone_ids,
                sites: site_ids,
                windows: window_ids,
            });
        }
        clauses
    }

    /// Monitoring sectors, in order along the line: each begins where its start falls on the
    /// line and ends where the next begins.
    fn sectors(&mut self, root: &Node, earth: &Earth, line: Option<&Polyline>) -> Vec<Sector> {
        // Each sector with its place in the file, for the problems found once all are read.
        let mut sectors: Vec<(Sector, Span, String)> = Vec::new();
        // Ids and names seen, whether or not the sector could be placed on the line.
        let mut seen: Vec<(String, String)> = Vec::new();
        for (node, path) in self.tables(root, "", "sectors") {
            if !self.keys(node, &path, &["id", "name", "start", "note"]) {
                continue;
            }
            let id = self.string(node, &path, "id", true);
            let name = self.string(node, &path, "name", false);
            let note = self.string(node, &path, "note", false);
            let start = match node.get("start") {
                Some(start) => self.position_table(start, &join(&path, "start")),
                None => {
                    self.missing(node, &path, "start");
                    None
                }
            };
            let (Some(id), Some(start)) = (id, start) else {
                continue;
            };
            let exists = seen.iter().any(|(i, _)| *i == id);
            if self.duplicate(node, &path, "sector", &id, exists) {
                continue;
            }
            let name = name.unwrap_or_else(|| id.clone());
            if seen.iter().any(|(_, n)| *n == name) {
                let span = node
                    .get("name")
                    .map_or_else(|| span_of(node, "id"), |v| v.span.clone());
                self.problem(
                    &span,
                    &join(&path, "name"),
                    format!("duplicate sector name {name:?} (bulletins count by name)"),
                );
                continue;
            }
            seen.push((id.clone(), name.clone()));
            // Without a valid line there is nothing to measure from (its problems are
            // reported).
            let Some(line) = line else { continue };
            let begins = line.nearest(earth, start);
            let span = span_of(node, "start");
            if begins.distance_m > MAX_SECTOR_START_M {
                self.problem(
                    &span,
                    &join(&path, "start"),
                    format!(
                        "is {:.1} km from the contact line; a sector starts on it or within {} km of it",
                        begins.distance_m / 1000.0,
                        MAX_SECTOR_START_M / 1000.0
                    ),
                );
                continue;
            }
            let sector = Sector {
                id,
                name,
                start,
                begins,
                from_m: 0.0,
                until_m: 0.0,
                note,
            };
            sectors.push((sector, span, join(&path, "start")));
        }
        let Some(line) = line else {
            return Vec::new();
        };
        // In order along the line (the file's order breaks ties, for the problem below).
        let order = |s: &Sector| line.along(&s.begins);
        sectors.sort_by(|(a, ..), (b, ..)| {
            let ((i, s), (j, t)) = (order(a), order(b));
            i.cmp(&j).then(s.total_cmp(&t))
        });
        for k in 1..sectors.len() {
            let (previous, (this, span, field)) = (&sectors[k - 1].0, &sectors[k]);
            if order(previous) == order(this) {
                let message = format!(
                    "sector {:?} starts where sector {:?} does: each needs a stretch of the line",
                    this.id, previous.id
                );
                let (span, field) = (span.clone(), field.clone());
                self.problem(&span, &field, message);
            }
        }
        let mut sectors: Vec<Sector> = sectors.into_iter().map(|(s, ..)| s).collect();
        let length_m = line.length_m(earth);
        let starts: Vec<f64> = sectors
            .iter()
            .enumerate()
            .map(|(k, s)| {
                if k == 0 {
                    0.0
                } else {
                    line.along_m(earth, &s.begins)
                }
            })
            .collect();
        for (k, s) in sectors.iter_mut().enumerate() {
            s.from_m = starts[k];
            s.until_m = starts.get(k + 1).copied().unwrap_or(length_m);
        }
        sectors
    }

    /// `{ lat = .., lon = .. }`.
    fn position_table(&mut self, node: &Node, path: &str) -> Option<LonLat> {
        if !self.keys(node, path, &["lat", "lon", "alt_m"]) {
            return None;
        }
        let lat = self.number(node, path, "lat", true);
        let lon = self.number(node, path, "lon", true);
        let (lat, lon) = (lat?, lon?);
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            self.problem(
                &node.span,
                path,
                "latitude must be in [-90, 90] and longitude in [-180, 180]",
            );
            return None;
        }
        Some([lon, lat])
    }

    /// A geometry: `{ file = "name.geojson" }` or an inline GeoJSON object (a geometry, a
    /// Feature or a FeatureCollection).
    fn shape(&mut self, node: &Node, path: &str) -> Option<Shape> {
        if let Some(file) = node.get("file") {
            self.keys(node, path, &["file"]);
            let Some(name) = file.as_str().filter(|n| !n.trim().is_empty()) else {
                self.problem(&file.span, &join(path, "file"), "must be a file name");
                return None;
            };
            let text = match (self.read)(name) {
                Ok(text) => text,
                Err(e) => {
                    self.problem(&file.span, &join(path, "file"), e);
                    return None;
                }
            };
            let index = self.files.len();
            self.files.push(SourceFile {
                name: name.to_string(),
                text: text.clone(),
            });
            return match parse_json(index, &text) {
                Ok(json) => self.geojson(&json, ""),
                Err((span, message)) => {
                    self.problem(&span, "", message);
                    None
                }
            };
        }
        self.geojson(node, path)
    }

    fn geojson(&mut self, node: &Node, path: &str) -> Option<Shape> {
        let kind = self.string(node, path, "type", true)?;
        match kind.as_str() {
            "FeatureCollection" => {
                let features = node.get("features").and_then(Node::as_array);
                let Some(features) = features else {
                    self.missing(node, path, "features");
                    return None;
                };
                let mut lines = Vec::new();
                let mut polygons = Vec::new();
                let mut ok = true;
                for (i, feature) in features.iter().enumerate() {
                    match self.geojson(feature, &format!("{}[{i}]", join(path, "features"))) {
                        Some(Shape::Lines(l)) => lines.extend(l),
                        Some(Shape::Polygons(p)) => polygons.extend(p.0),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                match (lines.is_empty(), polygons.is_empty()) {
                    (false, true) => Some(Shape::Lines(lines)),
                    (true, false) => Some(Shape::Polygons(MultiPolygon::new(polygons))),
                    _ => {
                        self.problem(
                            &node.span,
                            path,
                            "features must be all lines or all polygons, and at least one",
                        );
                        None
                    }
                }
            }
            "Feature" => match node.get("geometry") {
                Some(g) => self.geojson(g, &join(path, "geometry")),
                None => {
                    self.missing(node, path, "geometry");
                    None
                }
            },
            "LineString" | "MultiLineString" | "Polygon" | "MultiPolygon" => {
                let Some(coords) = node.get("coordinates") else {
                    self.missing(node, path, "coordinates");
                    return None;
                };
                let field = join(path, "coordinates");
                match kind.as_str() {
                    "LineString" => self.line(coords, &field).map(|l| Shape::Lines(vec![l])),
                    "MultiLineString" => self
                        .each(coords, &field, |s, n, f| s.line(n, f))
                        .map(Shape::Lines),
                    "Polygon" => self
                        .polygon(coords, &field)
                        .map(|p| Shape::Polygons(MultiPolygon::new(vec![p]))),
                    _ => self
                        .each(coords, &field, |s, n, f| s.polygon(n, f))
                        .map(|p| Shape::Polygons(MultiPolygon::new(p))),
                }
            }
            other => {
                let span = span_of(node, "type");
                self.problem(
                    &span,
                    &join(path, "type"),
                    format!("unsupported GeoJSON type {other:?} (expected LineString, MultiLineString, Polygon, MultiPolygon, Feature or FeatureCollection)"),
                );
                None
            }
        }
    }

    /// Applies `f` to each item of an array, keeping the result only if every item passed.
    fn each<T>(
        &mut self,
        node: &Node,
        path: &str,
        mut f: impl FnMut(&mut Self, &Node, &str) -> Option<T>,
    ) -> Option<Vec<T>> {
        let Some(items) = node.as_array() else {
            self.problem(
                &node.span,
                path,
                format!("must be an array, not {}", node.value.type_name()),
            );
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match f(self, item, &format!("{path}[{i}]")) {
                Some(v) => out.push(v),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn point(&mut self, node: &Node, path: &str) -> Option<LonLat> {
        let numbers: Option<Vec<f64>> = node
            .as_array()
            .and_then(|i| i.iter().map(Node::as_number).collect());
        match numbers.as_deref() {
            Some([lon, lat]) | Some([lon, lat, _]) if lon.is_finite() && lat.is_finite() => {
                if (-180.0..=180.0).contains(lon) && (-90.0..=90.0).contains(lat) {
                    Some([*lon, *lat])
                } else {
                    self.problem(&node.span, path, format!("position [{lon}, {lat}] is out of range (longitude first, in [-180, 180]; latitude in [-90, 90])"));
                    None
                }
            }
            _ => {
                self.problem(
                    &node.span,
                    path,
                    "a position is [longitude, latitude] or [longitude, latitude, altitude]",
                );
                None
            }
        }
    }

    fn line(&mut self, node: &Node, path: &str) -> Option<Vec<LonLat>> {
        let points = self.each(node, path, |s, n, f| s.point(n, f))?;
        if points.len() < 2 {
            self.problem(&node.span, path, "a line needs at least two positions");
            return None;
        }
        if let Some(i) = points.windows(2).position(|w| w[0] == w[1]) {
            self.problem(
                &node.span,
                path,
                format!("positions {i} and {} repeat", i + 1),
            );
            return None;
        }
        Some(points)
    }

    fn polygon(&mut self, node: &Node, path: &str) -> Option<Polygon> {
        let rings = self.each(node, path, |s, n, f| {
            let ring = s.each(n, f, |s, n, f| s.point(n, f))?;
            if ring.len() < 4 || ring.first() != ring.last() {
                s.problem(
                    &n.span,
                    f,
                    "a polygon ring needs at least four positions, the last equal to the first",
                );
                return None;
            }
            Some(LineString::new(
                ring.iter().map(|p| Coord { x: p[0], y: p[1] }).collect(),
            ))
        })?;
        let mut rings = rings.into_iter();
        let Some(exterior) = rings.next() else {
            self.problem(&node.span, path, "a polygon needs an exterior ring");
            return None;
        };
        let polygon = Polygon::new(exterior, rings.collect());
        let errors = polygon.validation_errors();
        if !errors.is_empty() {
            for e in errors {
                self.problem(&node.span, path, format!("invalid polygon: {e}"));
            }
            return None;
        }
        Some(polygon)
    }
}

/// The first pair of non-adjacent segments of a line that touch or cross.
fn self_crossing(coords: &[LonLat]) -> Option<(usize, usize)> {
    use geo::Intersects;
    let segments: Vec<geo::Line> = coords
        .windows(2)
        .map(|w| {
            geo::Line::new(
                Coord {
                    x: w[0][0],
                    y: w[0][1],
                },
                Coord {
                    x: w[1][0],
                    y: w[1][1],
                },
            )
        })
        .collect();
    let tree = rstar::RTree::bulk_load(
        segments
            .iter()
            .enumerate()
            .map(|(i, s)| {
                rstar::primitives::GeomWithData::new(
                    rstar::primitives::Rectangle::from_corners(
                        [s.start.x.min(s.end.x), s.start.y.min(s.end.y)],
                        [s.start.x.max(s.end.x), s.start.y.max(s.end.y)],
                    ),
                    i,
                )
            })
            .collect(),
    );
    for (i, s) in segments.iter().enumerate() {
        let envelope = rstar::AABB::from_corners(
            [s.start.x.min(s.end.x), s.start.y.min(s.end.y)],
            [s.start.x.max(s.end.x), s.start.y.max(s.end.y)],
        );
        for other in tree.locate_in_envelope_intersecting(&envelope) {
            let j = other.data;
            if j > i + 1 && s.intersects(&segments[j]) {
                return Some((i, j));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<Problem> {
        let read = |name: &str| Err(format!("no file {name}"));
        match Agreement::parse("a.toml", text, &read) {
            Ok(_) => Vec::new(),
            Err(p) => p,
        }
    }

    #[test]
    fn an_empty_file_name_is_a_problem_with_a_place() {
        let found = problems("[contact_line]\ngeometry = { file = \"\" }\n");
        let p = found
            .iter()
            .find(|p| p.field == "contact_line.geometry.file")
            .unwrap_or_else(|| panic!("{found:?}"));
        assert_eq!((p.file.as_str(), p.line), ("a.toml", 2));
        assert!(found.iter().all(|p| p.file == "a.toml" && p.line >= 1));
        // The missing sections are reported too, not only the first problem.
        assert!(found.iter().any(|p| p.field == "agreement"), "{found:?}");
        assert!(found.iter().any(|p| p.field == "clauses"), "{found:?}");
    }

    /// A small valid agreement: a line along 48° N from 30° to 32° E, UA north of it and RU
    /// south, and `sectors` appended.
    fn with_sectors(sectors: &str) -> String {
        format!(
            r#"[agreement]
id = "t"
entry_into_force = "2026-01-07T00:00:00Z"

[[parties]]
id = "UA"

[[parties]]
id = "RU"

[contact_line]
geometry = {{ type = "LineString", coordinates = [[30.0, 48.0], [31.0, 48.0], [32.0, 48.0]] }}

[[areas.party]]
party = "UA"
geometry = {{ type = "Polygon", coordinates = [[[29.0, 48.0], [33.0, 48.0], [33.0, 50.0], [29.0, 50.0], [29.0, 48.0]]] }}

[[areas.party]]
party = "RU"
geometry = {{ type = "Polygon", coordinates = [[[29.0, 46.0], [33.0, 46.0], [33.0, 48.0], [29.0, 48.0], [29.0, 46.0]]] }}

[[clauses]]
id = "1"
text = "no fire"
rule = "no_fire"
{sectors}"#
        )
    }

    fn load(text: &str) -> Agreement {
        let read = |name: &str| Err(format!("no file {name}"));
        Agreement::parse("a.toml", text, &read).unwrap_or_else(|p| panic!("{p:?}"))
    }

    #[test]
    fn sectors_run_from_their_start_to_the_next_along_the_line() {
        // Listed out of order: the east sector first, its start a little off the line and on
        // a vertex; the west one starts before the line's first position.
        let a = load(&with_sectors(
            r#"
[[sectors]]
id = "east"
name = "East"
start = { lat = 48.01, lon = 31.0 }

[[sectors]]
id = "west"
start = { lat = 48.0, lon = 30.2 }
note = "the first sector also takes the line before its start"
"#,
        ));
        let ids: Vec<&str> = a.sectors.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["west", "east"]);
        assert_eq!(a.sectors[0].name, "west", "the name defaults to the id");
        let length = a.line.length_m(&a.earth);
        assert_eq!(a.sectors[0].from_m, 0.0);
        assert_eq!(a.sectors[1].until_m, length);
        assert_eq!(a.sectors[0].until_m, a.sectors[1].from_m);
        // East begins at the middle vertex: half the line.
        assert!((a.sectors[1].from_m - length / 2.0).abs() < 1.0);
        let sector = |lon: f64, lat: f64| a.sector_at([lon, lat]).map(|s| s.id.as_str());
        for (lon, lat, want) in [
            (29.5, 48.0, "west"),
            (30.1, 49.0, "west"),
            (30.99, 47.5, "west"),
            (31.0, 48.0, "east"),
            (31.0, 47.0, "east"),
            (31.5, 48.2, "east"),
            (33.0, 48.0, "east"),
        ] {
            assert_eq!(sector(lon, lat), Some(want), "{lon}, {lat}");
        }
        let place = a.place(&truce_model::Position::new(47.9, 31.7));
        assert_eq!(place.sector.as_deref(), Some("east"));
        // Without sectors, no point has one.
        let none = load(&with_sectors(""));
        assert!(none.sector_at([31.0, 48.0]).is_none());
        assert_eq!(
            none.place(&truce_model::Position::new(48.0, 31.0)).sector,
            None
        );
    }

    #[test]
    fn sector_problems_are_listed_with_their_place() {
        let found = problems(&with_sectors(
            r#"
[[sectors]]
id = "a"
name = "A"
start = { lat = 48.0, lon = 30.0 }

[[sectors]]
id = "a"
start = { lat = 48.0, lon = 31.0 }

[[sectors]]
id = "b"
name = "A"
start = { lat = 48.0, lon = 31.5 }

[[sectors]]
id = "far"
start = { lat = 48.5, lon = 31.0 }

[[sectors]]
id = "same"
start = { lat = 48.001, lon = 30.0 }
colour = "red"

[[sectors]]
id = "nowhere"
"#,
        ));
        let at = |field: &str| {
            found
                .iter()
                .find(|p| p.field == field)
                .unwrap_or_else(|| panic!("no problem at {field}: {found:?}"))
        };
        assert!(at("sectors[1].id").message.contains("duplicate sector id"));
        assert!(
            at("sectors[2].name")
                .message
                .contains("duplicate sector name")
        );
        let far = at("sectors[3].start");
        assert!(
            far.message.contains("55.6 km from the contact line"),
            "{far}"
        );
        assert!(
            at("sectors[4].start")
                .message
                .contains("starts where sector \"a\" does")
        );
        assert!(at("sectors[4].colour").message.contains("unknown field"));
        assert_eq!(at("sectors[5].start").message, "missing");
        // Each with its line in the file.
        let line = |field: &str| at(field).line;
        assert!(line("sectors[1].id") < line("sectors[2].name"));
        assert!(line("sectors[4].start") < line("sectors[5].start"));
        assert_eq!(found.len(), 6, "{found:?}");
    }
}
