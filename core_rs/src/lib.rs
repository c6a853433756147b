//! HJ 212 (2005, 2017, 2025) codec: CRC, framing, parsing and validation, streaming framer,
//! split-message reassembly, encoding, code tables and columnar batch decode.
//!
//! Pure Rust; the Python binding lives in `python.rs` behind the `python` feature.

pub mod batch;
pub mod codes;
pub mod cp;
pub mod crc;
pub mod encode;
pub mod envelope;
pub mod error;
pub mod fastpath;
pub mod frame;
pub mod framer;
pub mod front;
pub mod hint;
pub mod kafka;
pub mod model;
pub mod native;
pub mod pool;
pub mod reassemble;
pub mod segment;
pub mod spool;
pub mod spool_writer;
pub mod text;
pub mod values;

#[cfg(feature = "python")]
mod python;

pub use crc::crc16;
pub use error::{ErrorKind, FrameError, Rejected, WarnCode, Warning};
pub use frame::{Options, Span, MAX_FRAME, MAX_SEGMENT};
pub use model::{Frame, Value};

/// Where lenient-mode deviations go. `Vec<Warning>` keeps them with their sentence; a counter
/// keeps only how many (the batch decoder), so no text is formatted on the hot path.
pub trait WarnSink {
    fn warn(&mut self, code: WarnCode, detail: impl FnOnce() -> String);
}

impl WarnSink for Vec<Warning> {
    fn warn(&mut self, code: WarnCode, detail: impl FnOnce() -> String) {
        self.push(Warning {
            code,
            detail: detail(),
        });
    }
}

/// Counts warnings without keeping them.
#[derive(Debug, Default, Clone, Copy)]
pub struct WarnCount(pub u32);

impl WarnSink for WarnCount {
    fn warn(&mut self, _code: WarnCode, _detail: impl FnOnce() -> String) {
        self.0 += 1;
    }
}

/// Parse one whole frame.
pub fn parse(raw: &[u8], opts: &Options) -> Result<Frame, FrameError> {
    Frame::parse(raw, opts)
}

/// A number's value if its text is one (the form checks are the parser's business).
#[inline]
pub fn read_number_value(text: &[u8]) -> Option<f64> {
    text::read_number(text).map(|(v, _)| v)
}
