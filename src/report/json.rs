//! JSON output that never hides a wrong number: serde_json writes `null` for NaN and ±∞, which
//! a reader cannot tell from a value that is absent by design. Every JSON object corrflow
//! prints or writes goes through [`to_json`], which walks the value first and refuses a
//! non-finite float with an error naming its place (`layers[3].cov_rel_err`).

use serde::ser::{self, Serialize};

use crate::error::{Error, Result};

/// `value` as pretty JSON; an error naming `what` and the path of the first non-finite float.
pub fn to_json<T: Serialize + ?Sized>(value: &T, what: &str) -> Result<String> {
    let mut walk = Walk::default();
    value.serialize(&mut walk).map_err(|e| match e {
        Found::NonFinite(path, x) => Error::Numeric(format!(
            "{what}: {path} is {x}; corrflow refuses to write it as null (the run is \
             degenerate there: see the message of the stage or rerun with other settings)"
        )),
        Found::Other(msg) => Error::Numeric(format!("{what}: {msg}")),
    })?;
    serde_json::to_string_pretty(value).map_err(|e| Error::Numeric(format!("{what}: {e}")))
}

/// Why the walk stopped.
#[derive(Debug)]
enum Found {
    /// A non-finite float at a path.
    NonFinite(String, f64),
    /// A serialisation error of the value itself.
    Other(String),
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Found::NonFinite(path, x) => write!(f, "{path} is {x}"),
            Found::Other(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Found {}

impl ser::Error for Found {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Found::Other(msg.to_string())
    }
}

/// A serializer that produces nothing and only checks floats, keeping the path it is at.
#[derive(Default)]
struct Walk {
    path: Vec<String>,
}

impl Walk {
    fn float(&self, x: f64) -> Result<(), Found> {
        if x.is_finite() {
            return Ok(());
        }
        let mut path = String::new();
        for part in &self.path {
            if !part.starts_with('[') && !path.is_empty() {
                path.push('.');
            }
            path.push_str(part);
        }
        if path.is_empty() {
            path.push_str("the value");
        }
        Err(Found::NonFinite(path, x))
    }

    /// Serialises `value` one level down, at `part`.
    fn at<T: Serialize + ?Sized>(&mut self, part: String, value: &T) -> Result<(), Found> {
        self.path.push(part);
        value.serialize(&mut *self)?;
        self.path.pop();
        Ok(())
    }
}

/// A sequence, tuple or map being walked: the walker and the next element's index.
struct Compound<'a> {
    walk: &'a mut Walk,
    next: usize,
    key: Option<String>,
}

impl Compound<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Found> {
        let part = format!("[{}]", self.next);
        self.next += 1;
        self.walk.at(part, value)
    }
}

type R = Result<(), Found>;

impl<'a> ser::Serializer for &'a mut Walk {
    type Ok = ();
    type Error = Found;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, _: bool) -> R {
        Ok(())
    }
    fn serialize_i8(self, _: i8) -> R {
        Ok(())
    }
    fn serialize_i16(self, _: i16) -> R {
        Ok(())
    }
    fn serialize_i32(self, _: i32) -> R {
        Ok(())
    }
    fn serialize_i64(self, _: i64) -> R {
        Ok(())
    }
    fn serialize_u8(self, _: u8) -> R {
        Ok(())
    }
    fn serialize_u16(self, _: u16) -> R {
        Ok(())
    }
    fn serialize_u32(self, _: u32) -> R {
        Ok(())
    }
    fn serialize_u64(self, _: u64) -> R {
        Ok(())
    }
    fn serialize_f32(self, x: f32) -> R {
        self.float(f64::from(x))
    }
    fn serialize_f64(self, x: f64) -> R {
        self.float(x)
    }
    fn serialize_char(self, _: char) -> R {
        Ok(())
    }
    fn serialize_str(self, _: &str) -> R {
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> R {
        Ok(())
    }
    fn serialize_none(self) -> R {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> R {
        value.serialize(self)
    }
    fn serialize_unit(self) -> R {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> R {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> R {
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> R {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> R {
        self.at(variant.to_string(), value)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a>, Found> {
        Ok(self.compound())
    }
    fn serialize_tuple(self, _: usize) -> Result<Compound<'a>, Found> {
        Ok(self.compound())
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, Found> {
        Ok(self.compound())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Compound<'a>, Found> {
        Ok(self.compound())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a>, Found> {
        Ok(self.compound())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, Found> {
        Ok(self.compound())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Compound<'a>, Found> {
        Ok(self.compound())
    }
}

impl Walk {
    fn compound(&mut self) -> Compound<'_> {
        Compound {
            walk: self,
            next: 0,
            key: None,
        }
    }
}

/// The compound serialisers whose elements are walked by index.
macro_rules! by_index {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Found;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> R {
                self.element(value)
            }
            fn end(self) -> R {
                Ok(())
            }
        }
    )*};
}

by_index!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Found;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> R {
        // A key's text for the path: JSON keys are strings or numbers.
        self.key = Some(
            serde_json::to_string(key)
                .map_or_else(|_| "?".to_string(), |k| k.trim_matches('"').to_string()),
        );
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> R {
        let key = self.key.take().unwrap_or_default();
        self.walk.at(key, value)
    }
    fn end(self) -> R {
        Ok(())
    }
}

/// The compound serialisers whose fields are walked by name.
macro_rules! by_name {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Found;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> R {
                self.walk.at(key.to_string(), value)
            }
            fn end(self) -> R {
                Ok(())
            }
        }
    )*};
}

by_name!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Row {
        stage: &'static str,
        kl: Option<f64>,
        err: f64,
    }

    #[test]
    fn a_non_finite_float_is_an_error_naming_its_path_and_none_is_null() {
        let rows = vec![
            Row {
                stage: "pre",
                kl: None,
                err: 0.5,
            },
            Row {
                stage: "post",
                kl: Some(f64::NAN),
                err: 0.5,
            },
        ];
        let err = to_json(&rows, "propagate").unwrap_err().to_string();
        assert!(err.contains("propagate: [1].kl is NaN"), "{err}");
        let ok = to_json(&rows[0], "x").unwrap();
        assert!(ok.contains("\"kl\": null"), "{ok}");
        let mut map = std::collections::BTreeMap::new();
        map.insert("a", vec![1.0, f64::INFINITY]);
        let err = to_json(&map, "m").unwrap_err().to_string();
        assert!(err.contains("a[1] is inf"), "{err}");
    }
}
