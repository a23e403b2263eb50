//! The guarantees file (TOML): the Commission's quorum, the guarantors and their
//! commitments, each with its ratification status, activation condition, response menu,
//! obligations and trigger. Format: docs/guarantees-format.md.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::action::{Measure, MetBy};

/// Why a guarantees file was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum GuaranteesError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// Not TOML of the expected shape (the first such error, with its line).
    #[error("{0}")]
    Syntax(String),
    /// Well-formed, but with these problems (all of them).
    #[error("{} problem(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
}

/// A problem with a field of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The field, as a path (`commitments[2].trigger.rules[0]`).
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The guarantees, as loaded and checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guarantees {
    pub guarantees: Header,
    pub commission: CommissionRules,
    #[serde(default)]
    pub guarantors: Vec<Guarantor>,
    #[serde(default)]
    pub commitments: Vec<Commitment>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub id: String,
    pub title: String,
    /// The id of the agreement whose findings trigger these commitments.
    pub agreement: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommissionRules {
    /// Seats on the Commission.
    pub members: u32,
    /// Concurring votes a ruling needs.
    pub quorum: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guarantor {
    /// ISO 3166 alpha-2 code (or an organisation's short name).
    pub country: String,
    pub name: String,
    /// Its place in the arrangement (`backstop`, `monitoring lead`, ...), as prose.
    pub role: String,
    /// Where its escalations are delivered (a JSON POST); none: the board only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
}

/// How far a commitment has come through its country's procedure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ratification {
    Pledged,
    Signed,
    Submitted,
    Ratified,
    InForce,
}

impl Ratification {
    /// Whether the commitment binds: ratified or in force.
    pub fn binds(&self) -> bool {
        *self >= Ratification::Ratified
    }
}

/// When a commitment can be activated at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Once the agreement has entered into force (findings before it engage nothing).
    CeasefireInForce,
    Always,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Commitment {
    pub id: String,
    /// The guarantor's country.
    pub guarantor: String,
    /// The instrument it rests on (treaty, declaration, law).
    pub instrument: String,
    /// `binding treaty`, `political declaration`, ...: prose.
    pub legal_force: String,
    pub ratification: Ratification,
    pub activation: Activation,
    /// What the guarantor may answer with.
    pub responses: Vec<Measure>,
    /// Deadlines from the moment an escalation opens: `consult within 24 h`,
    /// `decide within 72 h`, `acknowledge within 2 d`.
    pub obligations: Vec<String>,
    pub trigger: Trigger,
}

impl Commitment {
    /// The obligations read: (action, hours, what meets it). Checked at load.
    pub fn deadlines(&self) -> Vec<(String, u32, MetBy)> {
        self.obligations
            .iter()
            .filter_map(|o| parse_obligation(o).ok())
            .collect()
    }
}

/// The state a finding must have reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Required {
    /// Verified by an analyst or by the policy.
    Verified,
    /// In a ruling the Commission adopted.
    Ruled,
}

/// Who determines that the trigger is met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Determiner {
    Analysts,
    Commission,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// Rule kinds (`cross_line_fire`, `protected_site_strike`, ...); empty: any.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Clause ids of the agreement; empty: any.
    #[serde(default)]
    pub clauses: Vec<String>,
    /// `low`, `medium`, `high` or `critical` (see [`crate::triggers::severity`]).
    pub min_severity: String,
    pub state: Required,
    /// The finding (or the ruling) must name a party.
    pub attribution_required: bool,
    pub determined_by: Determiner,
}

/// The severities, lowest first.
pub const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

/// The rule kinds a trigger may name.
pub const RULES: [&str; 6] = [
    "no_fire",
    "cross_line_fire",
    "weapon_in_withdrawal_zone",
    "entry_into_buffer_zone",
    "protected_site_strike",
    "airspace_crossing",
];

/// `consult within 24 h` → (`consult`, 24, acknowledgement).
pub fn parse_obligation(text: &str) -> Result<(String, u32, MetBy), String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let bad = || {
        format!(
            "{text:?} is not `<action> within <N> h` or `<action> within <N> d` \
             (actions: acknowledge, consult, decide, respond)"
        )
    };
    let [action, "within", n, unit] = words.as_slice() else {
        return Err(bad());
    };
    let met_by = match *action {
        "acknowledge" | "consult" => MetBy::Acknowledgement,
        "decide" | "respond" => MetBy::Response,
        _ => return Err(bad()),
    };
    let n: u32 = n.parse().map_err(|_| bad())?;
    let hours = match *unit {
        "h" => n,
        "d" => n.checked_mul(24).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    if hours == 0 {
        return Err(bad());
    }
    Ok((action.to_string(), hours, met_by))
}

impl Guarantees {
    /// No guarantees: a Commission of one (quorum 1), no guarantors, nothing escalates.
    pub fn none(agreement: &str) -> Self {
        Self {
            guarantees: Header {
                id: "none".into(),
                title: "no guarantees configured".into(),
                agreement: agreement.into(),
                source: None,
            },
            commission: CommissionRules {
                members: 1,
                quorum: 1,
            },
            guarantors: Vec::new(),
            commitments: Vec::new(),
        }
    }

    /// Reads and checks a guarantees file.
    pub fn load(path: &Path) -> Result<Self, GuaranteesError> {
        let text = std::fs::read_to_string(path).map_err(|source| GuaranteesError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            GuaranteesError::Syntax(m) => {
                GuaranteesError::Syntax(format!("{}: {m}", path.display()))
            }
            other => other,
        })
    }

    /// Parses and checks guarantees from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, GuaranteesError> {
        let g: Guarantees =
            toml::from_str(text).map_err(|e| GuaranteesError::Syntax(e.to_string()))?;
        let problems = g.problems();
        if problems.is_empty() {
            Ok(g)
        } else {
            Err(GuaranteesError::Invalid(problems))
        }
    }

    /// Every problem of the file, not only the first.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut problem = |field: String, message: String| out.push(Problem { field, message });
        let c = &self.commission;
        if c.members == 0 {
            problem(
                "commission.members".into(),
                "the Commission needs members".into(),
            );
        }
        if c.quorum == 0 || c.quorum > c.members {
            problem(
                "commission.quorum".into(),
                format!("the quorum must be between 1 and the {} members", c.members),
            );
        }
        let mut countries = BTreeSet::new();
        for (i, g) in self.guarantors.iter().enumerate() {
            if !countries.insert(g.country.as_str()) {
                problem(
                    format!("guarantors[{i}].country"),
                    format!("{:?} is listed twice", g.country),
                );
            }
            if let Some(url) = &g.webhook
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                problem(
                    format!("guarantors[{i}].webhook"),
                    "a webhook is an http:// or https:// URL".into(),
                );
            }
        }
        let mut ids = BTreeSet::new();
        for (i, m) in self.commitments.iter().enumerate() {
            let at = |field: &str| format!("commitments[{i}].{field}");
            if m.id.is_empty() || !ids.insert(m.id.as_str()) {
                problem(at("id"), format!("{:?} is empty or not unique", m.id));
            }
            if !countries.contains(m.guarantor.as_str()) {
                problem(
                    at("guarantor"),
                    format!("{:?} is not among the guarantors", m.guarantor),
                );
            }
            if m.responses.is_empty() {
                problem(at("responses"), "the response menu is empty".into());
            }
            if m.obligations.is_empty() {
                problem(
                    at("obligations"),
                    "an escalation needs at least one deadline".into(),
                );
            }
            // An obligation is named by its action (its lapse is logged under that name).
            let mut named = std::collections::BTreeSet::new();
            for (j, o) in m.obligations.iter().enumerate() {
                match parse_obligation(o) {
                    Err(message) => problem(at(&format!("obligations[{j}]")), message),
                    Ok((action, _, _)) if !named.insert(action.clone()) => problem(
                        at(&format!("obligations[{j}]")),
                        format!("a second deadline for {action:?}"),
                    ),
                    Ok(_) => {}
                }
            }
            let t = &m.trigger;
            for (j, rule) in t.rules.iter().enumerate() {
                if !RULES.contains(&rule.as_str()) {
                    problem(
                        at(&format!("trigger.rules[{j}]")),
                        format!("{rule:?} is not a rule kind ({})", RULES.join(", ")),
                    );
                }
            }
            if !SEVERITIES.contains(&t.min_severity.as_str()) {
                problem(
                    at("trigger.min_severity"),
                    format!(
                        "{:?} is not one of {}",
                        t.min_severity,
                        SEVERITIES.join(", ")
                    ),
                );
            }
            let consistent = matches!(
                (t.state, t.determined_by),
                (Required::Verified, Determiner::Analysts)
                    | (Required::Ruled, Determiner::Commission)
            );
            if !consistent {
                problem(
                    at("trigger.determined_by"),
                    "a `verified` trigger is determined by the analysts, a `ruled` one by \
                     the commission"
                        .into(),
                );
            }
        }
        out
    }

    pub fn guarantor(&self, country: &str) -> Option<&Guarantor> {
        self.guarantors.iter().find(|g| g.country == country)
    }

    pub fn commitment(&self, id: &str) -> Option<&Commitment> {
        self.commitments.iter().find(|c| c.id == id)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const SAMPLE: &str = include_str!("../../../examples/guarantees/guarantees.toml");

    #[test]
    fn the_sample_loads() {
        let g = Guarantees::from_toml(SAMPLE).unwrap();
        assert_eq!(g.guarantees.agreement, "sample-ceasefire-2026");
        assert!(g.commission.quorum <= g.commission.members);
        assert!(g.guarantor("US").is_some());
        assert!(g.commitments.iter().any(|c| !c.ratification.binds()));
        assert!(g.commitments.iter().any(|c| c.ratification.binds()));
    }

    #[test]
    fn obligations_read() {
        assert_eq!(
            parse_obligation("consult within 24 h"),
            Ok(("consult".into(), 24, MetBy::Acknowledgement))
        );
        assert_eq!(
            parse_obligation("decide within 3 d"),
            Ok(("decide".into(), 72, MetBy::Response))
        );
        for bad in [
            "consult in 24 h",
            "pray within 1 h",
            "decide within 0 h",
            "decide within 2 w",
        ] {
            assert!(parse_obligation(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_problem_is_listed() {
        let text = SAMPLE
            .replacen("quorum = 3", "quorum = 9", 1)
            .replacen("guarantor = \"US\"", "guarantor = \"XX\"", 1)
            .replacen("\"consult within 24 h\"", "\"consult soon\"", 1)
            .replacen("min_severity = \"high\"", "min_severity = \"grave\"", 1)
            .replacen(
                "\"decide within 72 h\"",
                "\"decide within 72 h\", \"decide within 96 h\"",
                1,
            );
        let Err(GuaranteesError::Invalid(problems)) = Guarantees::from_toml(&text) else {
            panic!("loaded");
        };
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.field.ends_with("obligations[2]") && p.message.contains("second")),
            "{problems:?}"
        );
        assert!(fields.contains(&"commission.quorum"));
        assert!(fields.contains(&"commitments[0].guarantor"));
        assert!(fields.iter().any(|f| f.ends_with("obligations[0]")));
        assert!(fields.iter().any(|f| f.ends_with("trigger.min_severity")));
        let unknown = format!("{SAMPLE}\n[extra]\nx = 1\n");
        assert!(matches!(
            Guarantees::from_toml(&unknown),
            Err(GuaranteesError::Syntax(_))
        ));
    }
}
