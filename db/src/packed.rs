//! Compact serde forms for the large numeric arrays of stored models: `f32`/`u32` slices as
//! base64 of their little-endian bytes, a quarter of the space they take as JSON numbers.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Deserializer, Serializer};

fn serialize_words<S: Serializer>(
    words: impl Iterator<Item = [u8; 4]>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let bytes: Vec<u8> = words.flatten().collect();
    s.serialize_str(&STANDARD.encode(bytes))
}

fn deserialize_words<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 4]>, D::Error> {
    let text = String::deserialize(d)?;
    let bytes = STANDARD
        .decode(text.as_bytes())
        .map_err(serde::de::Error::custom)?;
    if bytes.len() % 4 != 0 {
        return Err(serde::de::Error::custom(
            "packed 32-bit data is not a multiple of 4 bytes",
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect())
}

/// `Vec<f32>` as packed bytes (`#[serde(with = "crate::packed::f32s")]`).
pub mod f32s {
    use super::*;

    pub fn serialize<S: Serializer>(values: &[f32], s: S) -> Result<S::Ok, S::Error> {
        serialize_words(values.iter().map(|v| v.to_le_bytes()), s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        Ok(deserialize_words(d)?
            .into_iter()
            .map(f32::from_le_bytes)
            .collect())
    }
}

/// `Vec<u32>` as packed bytes (`#[serde(with = "crate::packed::u32s")]`).
pub mod u32s {
    use super::*;

    pub fn serialize<S: Serializer>(values: &[u32], s: S) -> Result<S::Ok, S::Error> {
        serialize_words(values.iter().map(|v| v.to_le_bytes()), s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u32>, D::Error> {
        Ok(deserialize_words(d)?
            .into_iter()
            .map(u32::from_le_bytes)
            .collect())
    }
}
