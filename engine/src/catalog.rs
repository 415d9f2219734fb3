//! The catalog: node labels and edge types with their typed properties, and the values they
//! hold. Persisted as JSON under one meta key, rewritten in the same atomic batch as the data
//! that needed the change.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::keys::{CatalogId, Micros};

/// The type of a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PropType {
    /// 64-bit signed integer.
    Int,
    /// 64-bit float.
    Float,
    /// Boolean.
    Bool,
    /// UTF-8 string.
    String,
    /// Instant in microseconds since the Unix epoch, UTC.
    Timestamp,
    /// Fixed-length vector of 32-bit floats (node features).
    Vector(u32),
}

impl PropType {
    /// Parse a type name as written in `--schema col:type` (`int`, `float`, `bool`, `string`,
    /// `timestamp`, `vector(N)`; a few common aliases are accepted).
    pub fn parse(name: &str) -> Result<PropType> {
        let lower = name.trim().to_ascii_lowercase();
        let ty = match lower.as_str() {
            "int" | "integer" | "i64" | "bigint" | "long" => PropType::Int,
            "float" | "double" | "f64" | "real" => PropType::Float,
            "bool" | "boolean" => PropType::Bool,
            "string" | "str" | "text" | "utf8" | "varchar" => PropType::String,
            "timestamp" | "time" | "datetime" => PropType::Timestamp,
            other => {
                let inner = other
                    .strip_prefix("vector(")
                    .or_else(|| other.strip_prefix("vec("))
                    .and_then(|s| s.strip_suffix(')'));
                match inner.and_then(|n| n.trim().parse::<u32>().ok()) {
                    Some(n) if n > 0 => PropType::Vector(n),
                    _ => {
                        return Err(Error::InvalidArgument(format!(
                            "unknown type '{name}': expected int, float, bool, string, timestamp or vector(N)"
                        )))
                    }
                }
            }
        };
        Ok(ty)
    }
}

impl std::fmt::Display for PropType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PropType::Int => write!(f, "int"),
            PropType::Float => write!(f, "float"),
            PropType::Bool => write!(f, "bool"),
            PropType::String => write!(f, "string"),
            PropType::Timestamp => write!(f, "timestamp"),
            PropType::Vector(n) => write!(f, "vector({n})"),
        }
    }
}

/// A property value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// See [`PropType::Int`].
    Int(i64),
    /// See [`PropType::Float`].
    Float(f64),
    /// See [`PropType::Bool`].
    Bool(bool),
    /// See [`PropType::String`].
    String(String),
    /// See [`PropType::Timestamp`].
    Timestamp(Micros),
    /// See [`PropType::Vector`].
    Vector(Vec<f32>),
}

impl Value {
    /// The type of this value.
    pub fn prop_type(&self) -> PropType {
        match self {
            Value::Int(_) => PropType::Int,
            Value::Float(_) => PropType::Float,
            Value::Bool(_) => PropType::Bool,
            Value::String(_) => PropType::String,
            Value::Timestamp(_) => PropType::Timestamp,
            Value::Vector(v) => PropType::Vector(v.len() as u32),
        }
    }

    /// Convert to `ty` where that loses nothing (an integer into a float column); otherwise an
    /// error that names both types.
    pub fn coerce(self, ty: PropType) -> std::result::Result<Value, String> {
        match (self, ty) {
            (v, t) if v.prop_type() == t => Ok(v),
            (Value::Int(i), PropType::Float) => Ok(Value::Float(i as f64)),
            (Value::Int(i), PropType::Timestamp) => Ok(Value::Timestamp(i)),
            (v, t) => Err(format!("expected {t}, got {} value {}", v.prop_type(), v)),
        }
    }

    /// JSON form for `--format json` output.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Int(i) => serde_json::json!(i),
            Value::Float(x) => serde_json::json!(x),
            Value::Bool(b) => serde_json::json!(b),
            Value::String(s) => serde_json::json!(s),
            Value::Timestamp(t) => serde_json::json!(crate::time::format_micros(*t)),
            Value::Vector(v) => serde_json::json!(v),
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::String(s) => write!(f, "{s}"),
            Value::Timestamp(t) => write!(f, "{}", crate::time::format_micros(*t)),
            Value::Vector(v) => write!(f, "{v:?}"),
        }
    }
}

/// A named, typed property of a label or edge type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyDef {
    /// Property name, unique within its label or edge type.
    pub name: String,
    /// Its type.
    pub ty: PropType,
}

/// A node label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelDef {
    /// Dense id, used in keys.
    pub id: CatalogId,
    /// Name (`user`, `card`, ...).
    pub name: String,
    /// Name under which the external key is shown (the key column of the first load).
    pub key_name: String,
    /// Properties, in the order they were added; a property's index is its id in records.
    pub properties: Vec<PropertyDef>,
}

/// An edge type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeTypeDef {
    /// Dense id, used in keys.
    pub id: CatalogId,
    /// Name (`paid`, `uses_device`, ...).
    pub name: String,
    /// Label of every source node.
    pub src_label: CatalogId,
    /// Label of every destination node.
    pub dst_label: CatalogId,
    /// Stored and traversed both ways.
    pub undirected: bool,
    /// Properties, in the order they were added.
    pub properties: Vec<PropertyDef>,
}

/// Shared behaviour of labels and edge types: a list of typed properties.
pub trait HasProperties {
    /// What kind of thing this is, for messages (`label` or `edge type`).
    fn kind(&self) -> &'static str;
    /// Its name.
    fn name(&self) -> &str;
    /// Its properties.
    fn properties(&self) -> &[PropertyDef];

    /// Index of a property by name.
    fn property_index(&self, name: &str) -> Option<usize> {
        self.properties().iter().position(|p| p.name == name)
    }
}

impl HasProperties for LabelDef {
    fn kind(&self) -> &'static str {
        "label"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn properties(&self) -> &[PropertyDef] {
        &self.properties
    }
}

impl HasProperties for EdgeTypeDef {
    fn kind(&self) -> &'static str {
        "edge type"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn properties(&self) -> &[PropertyDef] {
        &self.properties
    }
}

/// All labels and edge types of a store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Node labels, indexed by id.
    pub labels: Vec<LabelDef>,
    /// Edge types, indexed by id.
    pub edge_types: Vec<EdgeTypeDef>,
}

fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "invalid {what} name '{name}': use letters, digits and '_', not starting with a digit"
        )))
    }
}

fn check_properties(owner: &str, props: &[PropertyDef]) -> Result<()> {
    for (i, p) in props.iter().enumerate() {
        if props[..i].iter().any(|q| q.name == p.name) {
            return Err(Error::Schema(format!(
                "{owner}: property '{}' declared twice",
                p.name
            )));
        }
        if p.name.is_empty() {
            return Err(Error::Schema(format!("{owner}: empty property name")));
        }
    }
    Ok(())
}

impl Catalog {
    /// Decode the persisted JSON form.
    pub fn from_json(bytes: &[u8]) -> Result<Catalog> {
        serde_json::from_slice(bytes).map_err(|e| Error::Corrupt(format!("catalog: {e}")))
    }

    /// The persisted JSON form.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("catalog serializes")
    }

    /// A label by name.
    pub fn label(&self, name: &str) -> Result<&LabelDef> {
        self.labels.iter().find(|l| l.name == name).ok_or_else(|| {
            let known: Vec<&str> = self.labels.iter().map(|l| l.name.as_str()).collect();
            Error::NotFound(format!(
                "no node label '{name}' (labels: {})",
                list_or_none(&known)
            ))
        })
    }

    /// A label by id.
    pub fn label_by_id(&self, id: CatalogId) -> Result<&LabelDef> {
        self.labels
            .get(id as usize)
            .ok_or_else(|| Error::Corrupt(format!("no label with id {id}")))
    }

    /// An edge type by name.
    pub fn edge_type(&self, name: &str) -> Result<&EdgeTypeDef> {
        self.edge_types
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.edge_types.iter().map(|t| t.name.as_str()).collect();
                Error::NotFound(format!(
                    "no edge type '{name}' (edge types: {})",
                    list_or_none(&known)
                ))
            })
    }

    /// An edge type by id.
    pub fn edge_type_by_id(&self, id: CatalogId) -> Result<&EdgeTypeDef> {
        self.edge_types
            .get(id as usize)
            .ok_or_else(|| Error::Corrupt(format!("no edge type with id {id}")))
    }

    /// Add a label; an existing label of that name is an error.
    pub fn create_label(
        &mut self,
        name: &str,
        key_name: &str,
        properties: Vec<PropertyDef>,
    ) -> Result<CatalogId> {
        check_name("label", name)?;
        if self.labels.iter().any(|l| l.name == name) {
            return Err(Error::Schema(format!("label '{name}' already exists")));
        }
        check_properties(&format!("label '{name}'"), &properties)?;
        let id = CatalogId::try_from(self.labels.len())
            .map_err(|_| Error::Schema("too many labels".into()))?;
        self.labels.push(LabelDef {
            id,
            name: name.to_string(),
            key_name: key_name.to_string(),
            properties,
        });
        Ok(id)
    }

    /// Add an edge type between two existing labels.
    pub fn create_edge_type(
        &mut self,
        name: &str,
        src_label: &str,
        dst_label: &str,
        undirected: bool,
        properties: Vec<PropertyDef>,
    ) -> Result<CatalogId> {
        check_name("edge type", name)?;
        if self.edge_types.iter().any(|t| t.name == name) {
            return Err(Error::Schema(format!("edge type '{name}' already exists")));
        }
        check_properties(&format!("edge type '{name}'"), &properties)?;
        let src_label = self.label(src_label)?.id;
        let dst_label = self.label(dst_label)?.id;
        let id = CatalogId::try_from(self.edge_types.len())
            .map_err(|_| Error::Schema("too many edge types".into()))?;
        self.edge_types.push(EdgeTypeDef {
            id,
            name: name.to_string(),
            src_label,
            dst_label,
            undirected,
            properties,
        });
        Ok(id)
    }

    /// Add a property to a label; adding one that exists with the same type is a no-op, with
    /// another type an error.
    pub fn add_label_property(&mut self, label: &str, prop: PropertyDef) -> Result<usize> {
        let id = self.label(label)?.id;
        add_property(&mut self.labels[id as usize], prop)
    }

    /// Add a property to an edge type (same rules as [`Catalog::add_label_property`]).
    pub fn add_edge_property(&mut self, edge_type: &str, prop: PropertyDef) -> Result<usize> {
        let id = self.edge_type(edge_type)?.id;
        add_property(&mut self.edge_types[id as usize], prop)
    }
}

fn add_property<T: HasProperties + PropsMut>(owner: &mut T, prop: PropertyDef) -> Result<usize> {
    if let Some(i) = owner.property_index(&prop.name) {
        let existing = owner.properties()[i].ty;
        if existing == prop.ty {
            return Ok(i);
        }
        return Err(Error::Schema(format!(
            "{} '{}': property '{}' is {existing}, cannot redeclare it as {}",
            owner.kind(),
            owner.name(),
            prop.name,
            prop.ty
        )));
    }
    if prop.name.is_empty() {
        return Err(Error::Schema(format!(
            "{} '{}': empty property name",
            owner.kind(),
            owner.name()
        )));
    }
    owner.props_mut().push(prop);
    Ok(owner.properties().len() - 1)
}

trait PropsMut {
    fn props_mut(&mut self) -> &mut Vec<PropertyDef>;
}
impl PropsMut for LabelDef {
    fn props_mut(&mut self) -> &mut Vec<PropertyDef> {
        &mut self.properties
    }
}
impl PropsMut for EdgeTypeDef {
    fn props_mut(&mut self) -> &mut Vec<PropertyDef> {
        &mut self.properties
    }
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_types() {
        assert_eq!(PropType::parse("INT").unwrap(), PropType::Int);
        assert_eq!(PropType::parse("vector(16)").unwrap(), PropType::Vector(16));
        assert!(PropType::parse("vector(0)").is_err());
        let err = PropType::parse("money").unwrap_err().to_string();
        assert!(err.contains("money"), "{err}");
    }

    #[test]
    fn properties_can_be_added_but_not_retyped() {
        let mut c = Catalog::default();
        c.create_label(
            "user",
            "user_id",
            vec![PropertyDef {
                name: "age".into(),
                ty: PropType::Int,
            }],
        )
        .unwrap();
        assert_eq!(
            c.add_label_property(
                "user",
                PropertyDef {
                    name: "score".into(),
                    ty: PropType::Float
                }
            )
            .unwrap(),
            1
        );
        assert_eq!(
            c.add_label_property(
                "user",
                PropertyDef {
                    name: "age".into(),
                    ty: PropType::Int
                }
            )
            .unwrap(),
            0
        );
        let err = c
            .add_label_property(
                "user",
                PropertyDef {
                    name: "age".into(),
                    ty: PropType::String,
                },
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("'age' is int"), "{err}");
        assert!(c.create_label("user", "k", vec![]).is_err());
        assert!(c.create_label("bad name", "k", vec![]).is_err());
        let json = c.to_json();
        assert_eq!(Catalog::from_json(&json).unwrap(), c);
    }

    #[test]
    fn coercion() {
        assert_eq!(
            Value::Int(3).coerce(PropType::Float).unwrap(),
            Value::Float(3.0)
        );
        assert!(Value::String("x".into()).coerce(PropType::Int).is_err());
        assert!(Value::Vector(vec![1.0])
            .coerce(PropType::Vector(2))
            .is_err());
    }
}
