//! Parquet rows, read one record batch at a time; column types come from the file's schema.

use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use super::{Cell, RowSource, SourceRow};
use crate::catalog::{PropType, Value};
use crate::error::{Error, Location, Result};

pub(crate) struct ParquetSource {
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    columns: Vec<String>,
    types: Vec<DataType>,
    rows: VecDeque<SourceRow>,
    next_line: u64,
    rows_read: u64,
    total_rows: u64,
    total_bytes: u64,
}

fn prop_type_of(dt: &DataType) -> Option<PropType> {
    match dt {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Some(PropType::Int),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            Some(PropType::Int)
        }
        DataType::Float32 | DataType::Float64 => Some(PropType::Float),
        DataType::Boolean => Some(PropType::Bool),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(PropType::String),
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => Some(PropType::Timestamp),
        DataType::FixedSizeList(f, n)
            if matches!(f.data_type(), DataType::Float32 | DataType::Float64) =>
        {
            Some(PropType::Vector(*n as u32))
        }
        _ => None,
    }
}

impl ParquetSource {
    pub(crate) fn open(path: &Path) -> Result<ParquetSource> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        let fmt = |e: parquet::errors::ParquetError| Error::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(fmt)?;
        let total_rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
        let schema = builder.schema().clone();
        let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let types: Vec<DataType> = schema
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        for (name, dt) in columns.iter().zip(&types) {
            if prop_type_of(dt).is_none() {
                return Err(Error::Format {
                    path: path.to_path_buf(),
                    message: format!(
                        "column '{name}' has Parquet/Arrow type {dt}, which Argus cannot store"
                    ),
                });
            }
        }
        let reader = builder.with_batch_size(8192).build().map_err(fmt)?;
        Ok(ParquetSource {
            path: path.to_path_buf(),
            reader,
            columns,
            types,
            rows: VecDeque::new(),
            next_line: 1,
            rows_read: 0,
            total_rows,
            total_bytes,
        })
    }

    fn fill(&mut self, batch: RecordBatch) -> Result<()> {
        let n = batch.num_rows();
        let mut rows: Vec<SourceRow> = (0..n)
            .map(|i| SourceRow {
                line: self.next_line + i as u64,
                cells: Vec::with_capacity(self.columns.len()),
            })
            .collect();
        for (c, array) in batch.columns().iter().enumerate() {
            for (i, row) in rows.iter_mut().enumerate() {
                let cell = cell_at(array, &self.types[c], i).map_err(|message| Error::Input {
                    location: Box::new(Location {
                        file: self.path.clone(),
                        line: row.line,
                        column: Some(c + 1),
                        column_name: Some(self.columns[c].clone()),
                    }),
                    message,
                })?;
                row.cells.push(cell);
            }
        }
        self.next_line += n as u64;
        self.rows.extend(rows);
        Ok(())
    }
}

/// One Parquet value as a cell, or what is wrong with it (the caller adds file, row and column).
fn cell_at(array: &ArrayRef, dt: &DataType, i: usize) -> std::result::Result<Cell, String> {
    if array.is_null(i) {
        return Ok(Cell::Null);
    }
    let v = match dt {
        DataType::Int8 => Value::Int(array.as_primitive::<Int8Type>().value(i) as i64),
        DataType::Int16 => Value::Int(array.as_primitive::<Int16Type>().value(i) as i64),
        DataType::Int32 => Value::Int(array.as_primitive::<Int32Type>().value(i) as i64),
        DataType::Int64 => Value::Int(array.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => Value::Int(array.as_primitive::<UInt8Type>().value(i) as i64),
        DataType::UInt16 => Value::Int(array.as_primitive::<UInt16Type>().value(i) as i64),
        DataType::UInt32 => Value::Int(array.as_primitive::<UInt32Type>().value(i) as i64),
        DataType::UInt64 => {
            let raw = array.as_primitive::<UInt64Type>().value(i);
            Value::Int(i64::try_from(raw).map_err(|_| {
                format!(
                    "UInt64 value {raw} is larger than the largest int Argus stores ({})",
                    i64::MAX
                )
            })?)
        }
        DataType::Float32 => Value::Float(array.as_primitive::<Float32Type>().value(i) as f64),
        DataType::Float64 => Value::Float(array.as_primitive::<Float64Type>().value(i)),
        DataType::Boolean => Value::Bool(array.as_boolean().value(i)),
        DataType::Utf8 => Value::String(array.as_string::<i32>().value(i).to_string()),
        DataType::LargeUtf8 => Value::String(array.as_string::<i64>().value(i).to_string()),
        DataType::Utf8View => Value::String(array.as_string_view().value(i).to_string()),
        DataType::Timestamp(unit, _) => {
            let (raw, micros) = match unit {
                TimeUnit::Second => {
                    let s = array.as_primitive::<TimestampSecondType>().value(i);
                    (s, s.checked_mul(1_000_000))
                }
                TimeUnit::Millisecond => {
                    let ms = array.as_primitive::<TimestampMillisecondType>().value(i);
                    (ms, ms.checked_mul(1_000))
                }
                TimeUnit::Microsecond => {
                    let us = array.as_primitive::<TimestampMicrosecondType>().value(i);
                    (us, Some(us))
                }
                TimeUnit::Nanosecond => {
                    let ns = array.as_primitive::<TimestampNanosecondType>().value(i);
                    (ns, Some(ns.div_euclid(1_000)))
                }
            };
            Value::Timestamp(micros.ok_or_else(|| out_of_range(dt, raw))?)
        }
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>().value(i);
            let micros = i64::from(days).checked_mul(MICROS_PER_DAY);
            Value::Timestamp(micros.ok_or_else(|| out_of_range(dt, i64::from(days)))?)
        }
        DataType::Date64 => {
            let ms = array.as_primitive::<Date64Type>().value(i);
            Value::Timestamp(ms.checked_mul(1_000).ok_or_else(|| out_of_range(dt, ms))?)
        }
        DataType::FixedSizeList(f, _) => {
            let list = array.as_fixed_size_list().value(i);
            let values: Vec<f32> = match f.data_type() {
                DataType::Float32 => list
                    .as_primitive::<Float32Type>()
                    .iter()
                    .map(|x| x.unwrap_or(f32::NAN))
                    .collect(),
                _ => list
                    .as_primitive::<Float64Type>()
                    .iter()
                    .map(|x| x.unwrap_or(f64::NAN) as f32)
                    .collect(),
            };
            Value::Vector(values)
        }
        _ => return Ok(Cell::Null),
    };
    Ok(Cell::Typed(v))
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A time value whose microseconds since the epoch do not fit an `i64`.
fn out_of_range(dt: &DataType, raw: i64) -> String {
    format!(
        "{dt} value {raw} is outside the range of times Argus stores (i64 microseconds since 1970, about years -290308 to 294247)"
    )
}

impl RowSource for ParquetSource {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn known_types(&self) -> Vec<Option<PropType>> {
        self.types.iter().map(prop_type_of).collect()
    }

    fn next_row(&mut self) -> Result<Option<SourceRow>> {
        while self.rows.is_empty() {
            match self.reader.next() {
                Some(Ok(batch)) => self.fill(batch)?,
                Some(Err(e)) => {
                    return Err(Error::Format {
                        path: self.path.clone(),
                        message: format!("near row {}: {e}", self.next_line),
                    })
                }
                None => return Ok(None),
            }
        }
        self.rows_read += 1;
        Ok(self.rows.pop_front())
    }

    fn progress(&self) -> (u64, u64) {
        // Parquet is read by row groups: report progress as the fraction of rows read.
        let frac = if self.total_rows == 0 {
            1.0
        } else {
            self.rows_read as f64 / self.total_rows as f64
        };
        ((frac * self.total_bytes as f64) as u64, self.total_bytes)
    }

    fn path(&self) -> &Path {
        &self.path
    }
}
