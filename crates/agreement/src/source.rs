//! Source text with positions: a small value tree read from TOML or JSON in which every
//! value remembers where it was written, so that a problem can name its file, line and field.

use std::fmt;
use std::ops::Range;

use serde_json::value::RawValue;
use toml::de::{DeTable, DeValue};

/// One file the agreement was read from.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

impl SourceFile {
    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        (line, column)
    }
}

/// Where a value was written: a file (index into the loader's files) and a byte range.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Span {
    pub file: usize,
    pub range: Range<usize>,
}

/// A value with its place.
#[derive(Clone, Debug)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A TOML date-time, as written.
    Datetime(String),
    Array(Vec<Node>),
    Table(Vec<(String, Node)>),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::Datetime(_) => "a date-time",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Table(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match self.value {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) | Value::Datetime(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_table(&self) -> Option<&[(String, Node)]> {
        match &self.value {
            Value::Table(entries) => Some(entries),
            _ => None,
        }
    }
}

/// A problem in an agreement file, with its place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The field at fault, as a path (`zones[2].distance_km`).
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// Reads TOML into a tree, collecting syntax errors instead of stopping at the first.
pub fn parse_toml(file: usize, text: &str) -> (Node, Vec<(Span, String)>) {
    let (table, errors) = DeTable::parse_recoverable(text);
    let errors = errors
        .into_iter()
        .map(|e| {
            let range = e.span().unwrap_or(0..0);
            (Span { file, range }, e.message().to_string())
        })
        .collect();
    let span = Span {
        file,
        range: table.span(),
    };
    let value = toml_table(file, table.get_ref());
    (Node { span, value }, errors)
}

fn toml_table(file: usize, table: &DeTable<'_>) -> Value {
    Value::Table(
        table
            .iter()
            .map(|(k, v)| (k.get_ref().to_string(), toml_node(file, v)))
            .collect(),
    )
}

fn toml_node(file: usize, value: &toml::Spanned<DeValue<'_>>) -> Node {
    let span = Span {
        file,
        range: value.span(),
    };
    let value = match value.get_ref() {
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Integer(i) => match toml_integer(i.as_str(), i.radix()) {
            Some(n) => Value::Int(n),
            None => Value::Float(f64::NAN),
        },
        DeValue::Float(f) => Value::Float(toml_float(f.as_str())),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::Datetime(d.to_string()),
        DeValue::Array(items) => Value::Array(items.iter().map(|v| toml_node(file, v)).collect()),
        DeValue::Table(table) => toml_table(file, table),
    };
    Node { span, value }
}

fn toml_integer(text: &str, radix: u32) -> Option<i64> {
    let cleaned: String = text.chars().filter(|c| *c != '_').collect();
    let (negative, digits) = match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, cleaned.strip_prefix('+').unwrap_or(&cleaned)),
    };
    let digits = if radix == 10 {
        digits
    } else {
        digits.get(2..).unwrap_or("")
    };
    let n = i64::from_str_radix(digits, radix).ok()?;
    Some(if negative { -n } else { n })
}

fn toml_float(text: &str) -> f64 {
    let cleaned: String = text.chars().filter(|c| *c != '_').collect();
    match cleaned.trim_start_matches(['+', '-']) {
        "inf" => {
            if cleaned.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        "nan" => f64::NAN,
        _ => cleaned.parse().unwrap_or(f64::NAN),
    }
}

/// Reads JSON into a tree. Positions come from the borrowed raw values' places in `text`.
pub fn parse_json(file: usize, text: &str) -> Result<Node, (Span, String)> {
    let raw: &RawValue = serde_json::from_str(text).map_err(|e| {
        let offset = offset_of_line_col(text, e.line(), e.column());
        (
            Span {
                file,
                range: offset..offset,
            },
            format!("not JSON: {e}"),
        )
    })?;
    json_node(file, text, raw).map_err(|message| (Span::default(), message))
}

fn offset_of_line_col(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (start + column.saturating_sub(1)).min(text.len())
}

fn json_node(file: usize, text: &str, raw: &RawValue) -> Result<Node, String> {
    let slice = raw.get();
    let start = (slice.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
    let start = if start <= text.len() { start } else { 0 };
    let span = Span {
        file,
        range: start..start + slice.len(),
    };
    let bad = |e: serde_json::Error| e.to_string();
    let value = match slice.as_bytes().first() {
        Some(b'{') => {
            let members: Vec<(String, &RawValue)> = serde_json::from_str::<JsonObject<'_>>(slice)
                .map_err(bad)?
                .0;
            Value::Table(
                members
                    .into_iter()
                    .map(|(k, v)| Ok((k, json_node(file, text, v)?)))
                    .collect::<Result<_, String>>()?,
            )
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(slice).map_err(bad)?;
            Value::Array(
                items
                    .into_iter()
                    .map(|v| json_node(file, text, v))
                    .collect::<Result<_, _>>()?,
            )
        }
        Some(b'"') => Value::Str(serde_json::from_str(slice).map_err(bad)?),
        Some(b't') | Some(b'f') => Value::Bool(serde_json::from_str(slice).map_err(bad)?),
        Some(b'n') => Value::Null,
        _ => {
            let n: serde_json::Number = serde_json::from_str(slice).map_err(bad)?;
            match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            }
        }
    };
    Ok(Node { span, value })
}

/// A JSON object's members in the order written, values left raw.
struct JsonObject<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for JsonObject<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Members<'a> {
            type Value = JsonObject<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Self::Value, M::Error> {
                let mut members = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    members.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(JsonObject(members))
            }
        }
        deserializer.deserialize_map(Members(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_values_keep_their_lines() {
        let text = "a = 1\n[b]\nc = [1.5, \"x\"]\nd = 2026-01-07T00:00:00Z\n";
        let (node, errors) = parse_toml(0, text);
        assert!(errors.is_empty());
        let file = SourceFile {
            name: "t.toml".into(),
            text: text.into(),
        };
        let c = node.get("b").unwrap().get("c").unwrap();
        assert_eq!(file.line_col(c.span.range.start).0, 3);
        let items = c.as_array().unwrap();
        assert_eq!(items[0].as_number(), Some(1.5));
        assert_eq!(items[1].as_str(), Some("x"));
        assert_eq!(
            node.get("b").unwrap().get("d").unwrap().as_str(),
            Some("2026-01-07T00:00:00Z")
        );
        assert_eq!(toml_integer("0x1F", 16), Some(31));
        assert_eq!(toml_integer("-1_000", 10), Some(-1000));
    }

    #[test]
    fn toml_syntax_errors_are_all_reported() {
        let (_, errors) = parse_toml(0, "a = \nb = [1,\n");
        assert!(!errors.is_empty());
    }

    #[test]
    fn json_values_keep_their_lines() {
        let text =
            "{\n \"type\": \"LineString\",\n \"coordinates\": [\n  [1, 2],\n  [3.5, \"x\"]\n ]\n}";
        let node = parse_json(0, text).unwrap();
        let file = SourceFile {
            name: "t.json".into(),
            text: text.into(),
        };
        let coords = node.get("coordinates").unwrap().as_array().unwrap();
        assert_eq!(file.line_col(coords[1].span.range.start), (5, 3));
        let second = coords[1].as_array().unwrap();
        assert_eq!(second[0].as_number(), Some(3.5));
        assert_eq!(file.line_col(second[1].span.range.start), (5, 9));
        let (span, message) = parse_json(0, "{\n\"a\": }").unwrap_err();
        assert!(message.contains("not JSON"), "{message}");
        assert_eq!(span.range.start, 7);
    }
}
