//! A reader for dlib's serialization format, as far as the two shipped
//! models need it (dlib's `serialize.h`, `cuda/tensor.h`, `matrix.h`).
//!
//! - An integer is a control byte (low nibble: how many bytes follow,
//!   `0x80`: negative) and then that many little-endian bytes of its
//!   magnitude.
//! - A floating-point number is two integers, a 64-bit mantissa and a
//!   16-bit exponent: `mantissa × 2^exponent` (exponents from 32000 up mark
//!   infinities and NaN).
//! - A string is its length (an integer) and its bytes.
//! - A tensor is a version (2), four integers (samples, k, rows, columns)
//!   and then its values as raw little-endian `f32`s.

/// Where the bytes did not hold what the format says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dlib model at byte {at}: {what}")]
pub(crate) struct FormatError {
    pub(crate) at: usize,
    pub(crate) what: String,
}

/// A cursor over a serialized dlib object.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    pub(crate) fn error(&self, what: impl Into<String>) -> FormatError {
        FormatError {
            at: self.at,
            what: what.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| self.error(format!("{n} more bytes needed, the file ends")))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    /// An integer of any width (dlib writes them all the same way).
    pub(crate) fn int(&mut self) -> Result<i64, FormatError> {
        let control = self.take(1)?[0];
        let size = usize::from(control & 0x0F);
        if size == 0 || size > 8 {
            return Err(self.error(format!("an integer of {size} bytes")));
        }
        let mut magnitude: u64 = 0;
        for (i, byte) in self.take(size)?.iter().enumerate() {
            magnitude |= u64::from(*byte) << (8 * i);
        }
        let value = i64::try_from(magnitude).map_err(|_| self.error("an integer past i64"))?;
        Ok(if control & 0x80 != 0 { -value } else { value })
    }

    /// A non-negative integer that counts or sizes something.
    pub(crate) fn count(&mut self) -> Result<usize, FormatError> {
        let value = self.int()?;
        usize::try_from(value).map_err(|_| self.error(format!("a negative count {value}")))
    }

    pub(crate) fn float(&mut self) -> Result<f64, FormatError> {
        let mantissa = self.int()?;
        let exponent = self.int()?;
        match exponent {
            32000 => Ok(f64::INFINITY),
            32001 => Ok(f64::NEG_INFINITY),
            32002.. => Ok(f64::NAN),
            _ => Ok(mantissa as f64 * 2f64.powi(exponent as i32)),
        }
    }

    /// A tensor's shape and values.
    pub(crate) fn tensor(&mut self) -> Result<([usize; 4], Vec<f32>), FormatError> {
        let version = self.int()?;
        if version != 2 {
            return Err(self.error(format!("tensor version {version}")));
        }
        let shape = [self.count()?, self.count()?, self.count()?, self.count()?];
        let len = shape
            .iter()
            .try_fold(1usize, |n, side| n.checked_mul(*side))
            .ok_or_else(|| self.error("a tensor too large"))?;
        let raw = self.take(
            len.checked_mul(4)
                .ok_or_else(|| self.error("a tensor too large"))?,
        )?;
        let values = raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Ok((shape, values))
    }

    /// The shape of an alias tensor (a view into a layer's parameters).
    pub(crate) fn alias(&mut self) -> Result<[usize; 4], FormatError> {
        let version = self.int()?;
        if version != 1 {
            return Err(self.error(format!("alias tensor version {version}")));
        }
        Ok([self.count()?, self.count()?, self.count()?, self.count()?])
    }

    /// Moves to just past the next occurrence of one of `names` written as
    /// a dlib string, returning the name; `None` at the end of the bytes.
    /// The network's layers sit between bookkeeping (flags, empty tensors)
    /// that inference has no use for.
    pub(crate) fn next_of(&mut self, names: &[&'static str]) -> Option<&'static str> {
        let bytes = self.bytes;
        for start in self.at..bytes.len().saturating_sub(2) {
            if bytes[start] != 1 {
                continue;
            }
            let len = usize::from(bytes[start + 1]);
            let text = &bytes[start + 2..bytes.len().min(start + 2 + len)];
            if let Some(name) = names.iter().find(|name| name.as_bytes() == text) {
                self.at = start + 2 + len;
                return Some(name);
            }
        }
        None
    }
}
