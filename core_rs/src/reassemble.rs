//! Split messages: a message too long for one frame goes out as PNUM parts (Flag's D bit
//! set, PNO 1..=PNUM on each); this joins them back into one frame.
//!
//! Which parts belong together. The issue keys messages by (MN, QN), and that is the
//! primary key. But the standard's own example of a split message (appendix C, tables
//! C.49 and C.50) gives its two parts different QNs (`...534` and `...535`): a logger
//! following the standard to the letter stamps each part with its own QN. So a part with
//! no pending message under its (MN, QN) joins a pending message that
//! - has the same MN, CN and PNUM,
//! - does not yet hold that PNO, and
//! - received a part within the last `timeout_ms`;
//!
//! of several, the one that received a part most recently (parts of one message arrive
//! back to back; an older message still missing the same PNO most likely lost it). From
//! then on the part's QN is an alias of that message, so a resent copy finds it directly.
//!
//! The joined frame is the first part's header with the D bit cleared from Flag and
//! PNUM/PNO dropped, and as data area the parts' data areas in PNO order joined with `;`.
//! Parts of the standard's example each repeat the record's `DataTime`: a later part that
//! starts with the same `DataTime=...` as the first has it dropped, so the joined frame has
//! one. The joined segment is parsed in lenient mode (its data area is longer than the
//! standard's 950 bytes by design; that warning is left out) and carries the parts'
//! warnings first.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;

use crate::error::{ErrorKind, FrameError, WarnCode};
use crate::frame::{Options, MAX_SEGMENT};
use crate::model::Frame;
use crate::segment::FLAG_D;

/// The smallest frame a part can be (`##`, length, a minimal segment, CRC, tail). A message
/// with more parts than `max_bytes / MIN_PART_BYTES` could never be held whole, so it is
/// refused up front, which also bounds `Expired::missing`.
const MIN_PART_BYTES: usize = 48;

/// How many parts of completed messages are remembered (as digests) to recognise resends
/// that come after the message was joined: a logger resends a part whose answer it missed.
const RECENT_MAX: usize = 4096;

/// A split message that timed out or was evicted to stay within the memory bound, with the
/// parts that did arrive (in PNO order) so nothing is lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    pub mn: String,
    /// the QN of the part that opened the message
    pub qn: String,
    pub cn: u16,
    pub pnum: u32,
    pub missing: Vec<u32>,
    pub parts: Vec<Frame>,
}

#[derive(Debug)]
struct Message {
    mn: String,
    qn: String,
    cn: u16,
    pnum: u32,
    first_ms: u64,
    last_ms: u64,
    /// every QN its parts carried (keys of `by_key`)
    qns: Vec<String>,
    parts: BTreeMap<u32, (u64, Frame)>,
    bytes: usize,
}

impl Message {
    fn into_expired(self) -> Expired {
        let missing = (1..=self.pnum)
            .filter(|n| !self.parts.contains_key(n))
            .collect();
        Expired {
            mn: self.mn,
            qn: self.qn,
            cn: self.cn,
            pnum: self.pnum,
            missing,
            parts: self.parts.into_values().map(|(_, f)| f).collect(),
        }
    }
}

/// Joins split messages; bounded in time, count and bytes.
#[derive(Debug)]
pub struct Reassembler {
    timeout_ms: u64,
    max_messages: usize,
    max_bytes: usize,
    next_id: u64,
    /// by id, which grows with arrival: the first entry is the oldest
    messages: BTreeMap<u64, Message>,
    by_key: HashMap<(String, String), u64>,
    bytes: usize,
    /// evicted to stay within the bounds, waiting for the next `expire`
    evicted: Vec<Expired>,
    /// digests of parts of recently joined messages, with when they were joined
    recent: VecDeque<(u64, u64)>,
    recent_set: HashSet<u64>,
    hasher: RandomState,
}

fn conflict(field: &str, value: &[u8], why: String) -> FrameError {
    FrameError::at_field(ErrorKind::Field, field, value, 0, why)
}

impl Reassembler {
    pub fn new(timeout_ms: u64, max_messages: usize, max_bytes: usize) -> Self {
        Reassembler {
            timeout_ms,
            max_messages,
            max_bytes,
            next_id: 0,
            messages: BTreeMap::new(),
            by_key: HashMap::new(),
            bytes: 0,
            evicted: Vec::new(),
            recent: VecDeque::new(),
            recent_set: HashSet::new(),
            hasher: RandomState::new(),
        }
    }

    /// A non-split frame passes through as `Ok(Some(frame))`; a part is held until every
    /// PNO 1..=PNUM is in, then the joined frame is returned; `Ok(None)` while waiting, and
    /// for a resent copy of a part already held or already joined (identical bytes: the
    /// caller still answers it). A part conflicting with what is held (another PNUM or CN
    /// under the same key, the same PNO with different bytes) is a `field` error and the
    /// held message is kept as it was.
    pub fn add(&mut self, frame: Frame, now_ms: u64) -> Result<Option<Frame>, FrameError> {
        if !frame.is_split() {
            return Ok(Some(frame));
        }
        let (Some(pnum), Some(pno)) = (frame.pnum(), frame.pno()) else {
            return Err(conflict(
                "PNUM",
                b"",
                "Flag's D bit is set but PNUM/PNO are missing".into(),
            ));
        };
        if pno == 0 || pno > pnum {
            return Err(conflict(
                "PNO",
                pno.to_string().as_bytes(),
                format!("PNO must be 1..={pnum}"),
            ));
        }
        let most = self.max_bytes / MIN_PART_BYTES;
        if pnum as usize > most {
            return Err(conflict(
                "PNUM",
                pnum.to_string().as_bytes(),
                format!(
                    "a message of {pnum} parts cannot be held within {} bytes",
                    self.max_bytes
                ),
            ));
        }
        let digest = self.hasher.hash_one(frame.segment_bytes());
        self.forget_recent(now_ms);
        if self.recent_set.contains(&digest) {
            return Ok(None);
        }
        let mn = frame.mn().map(|s| s.into_owned()).unwrap_or_default();
        let qn = frame.qn().map(|s| s.into_owned()).unwrap_or_default();
        let cn = frame.cn_num();
        let key = (mn, qn);

        let id = match self.by_key.get(&key) {
            Some(&id) => {
                let Some(m) = self.messages.get(&id) else {
                    return Err(conflict(
                        "QN",
                        key.1.as_bytes(),
                        "internal index out of step".into(),
                    ));
                };
                if m.pnum != pnum {
                    return Err(conflict(
                        "PNUM",
                        pnum.to_string().as_bytes(),
                        format!(
                            "parts held for MN={} QN={} say PNUM={}",
                            key.0, key.1, m.pnum
                        ),
                    ));
                }
                if m.cn != cn {
                    return Err(conflict(
                        "CN",
                        frame.cn().as_bytes(),
                        format!(
                            "parts held for MN={} QN={} have CN={:04}",
                            key.0, key.1, m.cn
                        ),
                    ));
                }
                if let Some((held, _)) = m.parts.get(&pno) {
                    if *held == digest {
                        return Ok(None);
                    }
                    return Err(conflict(
                        "PNO",
                        pno.to_string().as_bytes(),
                        format!(
                            "part {pno} of MN={} QN={} arrived twice with different contents",
                            key.0, key.1
                        ),
                    ));
                }
                id
            }
            None => match self.sibling(&key.0, cn, pnum, pno, now_ms) {
                Some(id) => {
                    self.by_key.insert(key.clone(), id);
                    if let Some(m) = self.messages.get_mut(&id) {
                        m.qns.push(key.1.clone());
                    }
                    id
                }
                None => {
                    let id = self.next_id;
                    self.next_id += 1;
                    self.by_key.insert(key.clone(), id);
                    self.messages.insert(
                        id,
                        Message {
                            mn: key.0.clone(),
                            qn: key.1.clone(),
                            cn,
                            pnum,
                            first_ms: now_ms,
                            last_ms: now_ms,
                            qns: vec![key.1.clone()],
                            parts: BTreeMap::new(),
                            bytes: 0,
                        },
                    );
                    id
                }
            },
        };

        let size = frame.raw.len();
        let Some(m) = self.messages.get_mut(&id) else {
            return Err(conflict(
                "QN",
                key.1.as_bytes(),
                "internal index out of step".into(),
            ));
        };
        m.parts.insert(pno, (digest, frame));
        m.bytes += size;
        m.last_ms = m.last_ms.max(now_ms);
        self.bytes += size;

        if m.parts.len() as u64 == u64::from(m.pnum) {
            let Some(m) = self.remove(id) else {
                return Ok(None);
            };
            for (d, _) in m.parts.values() {
                self.remember(*d, now_ms);
            }
            return match join(&m) {
                Ok(f) => Ok(Some(f)),
                Err(e) => {
                    // keep the parts: they come back from `expire` with nothing missing
                    self.evicted.push(m.into_expired());
                    Err(e)
                }
            };
        }
        self.enforce_bounds();
        Ok(None)
    }

    /// Drop messages whose first part is more than `timeout_ms` old, and hand back those
    /// evicted since the last call to stay within the bounds (oldest first).
    pub fn expire(&mut self, now_ms: u64) -> Vec<Expired> {
        let old: Vec<u64> = self
            .messages
            .iter()
            .filter(|(_, m)| now_ms.saturating_sub(m.first_ms) > self.timeout_ms)
            .map(|(&id, _)| id)
            .collect();
        let mut out = std::mem::take(&mut self.evicted);
        for id in old {
            if let Some(m) = self.remove(id) {
                out.push(m.into_expired());
            }
        }
        self.forget_recent(now_ms);
        out
    }

    /// Messages waiting for parts.
    pub fn pending(&self) -> usize {
        self.messages.len()
    }

    /// Bytes of the parts held (their raw frames).
    pub fn pending_bytes(&self) -> usize {
        self.bytes
    }

    /// The pending message a part with a QN of its own belongs to (see the module comment).
    fn sibling(&self, mn: &str, cn: u16, pnum: u32, pno: u32, now_ms: u64) -> Option<u64> {
        self.messages
            .iter()
            .filter(|(_, m)| {
                m.mn == mn
                    && m.cn == cn
                    && m.pnum == pnum
                    && !m.parts.contains_key(&pno)
                    && now_ms.saturating_sub(m.last_ms) <= self.timeout_ms
            })
            .max_by_key(|(&id, m)| (m.last_ms, id))
            .map(|(&id, _)| id)
    }

    fn remove(&mut self, id: u64) -> Option<Message> {
        let m = self.messages.remove(&id)?;
        for qn in &m.qns {
            self.by_key.remove(&(m.mn.clone(), qn.clone()));
        }
        self.bytes = self.bytes.saturating_sub(m.bytes);
        Some(m)
    }

    fn enforce_bounds(&mut self) {
        while self.messages.len() > self.max_messages || self.bytes > self.max_bytes {
            let Some(&id) = self.messages.keys().next() else {
                break;
            };
            if let Some(m) = self.remove(id) {
                self.evicted.push(m.into_expired());
            }
        }
    }

    fn remember(&mut self, digest: u64, now_ms: u64) {
        if self.recent_set.insert(digest) {
            self.recent.push_back((now_ms, digest));
        }
        while self.recent.len() > RECENT_MAX {
            if let Some((_, d)) = self.recent.pop_front() {
                self.recent_set.remove(&d);
            }
        }
    }

    fn forget_recent(&mut self, now_ms: u64) {
        while let Some(&(at, d)) = self.recent.front() {
            if now_ms.saturating_sub(at) <= self.timeout_ms {
                break;
            }
            self.recent.pop_front();
            self.recent_set.remove(&d);
        }
    }
}

/// The field (`name=value`) a data area starts with, if it is DataTime.
fn leading_data_time(data: &[u8]) -> Option<&[u8]> {
    if !data.starts_with(b"DataTime=") {
        return None;
    }
    let end = data
        .iter()
        .position(|&b| b == b';' || b == b',')
        .unwrap_or(data.len());
    data.get(..end)
}

/// One frame from all parts (present, in PNO order).
fn join(m: &Message) -> Result<Frame, FrameError> {
    let mut parts = m.parts.values().map(|(_, f)| f);
    let Some(first) = parts.next() else {
        return Err(conflict("PNO", b"", "no parts to join".into()));
    };
    let h = &first.parsed.header;
    // Header: the first part's segment up to the `&&` opening its data area, so any field
    // the logger added (kept in lenient mode) survives as it was sent.
    let head = first
        .raw
        .get(first.parsed.segment.start as usize..(h.cp.start as usize).saturating_sub(2))
        .unwrap_or_default();
    let mut seg = Vec::with_capacity(m.bytes);
    let pieces: Vec<&[u8]> = head.split(|&b| b == b';').collect();
    let Some((cp_key, fields)) = pieces.split_last() else {
        return Err(conflict(
            "CP",
            b"",
            "the first part has no data area".into(),
        ));
    };
    for piece in fields {
        let name = piece
            .split(|&b| b == b'=')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        match name {
            b"PNUM" | b"PNO" => continue,
            b"Flag" => {
                let flag = h.flag.unwrap_or(0) & !FLAG_D;
                seg.extend_from_slice(format!("Flag={flag}").as_bytes());
            }
            _ => seg.extend_from_slice(piece),
        }
        seg.push(b';');
    }
    seg.extend_from_slice(cp_key);
    seg.extend_from_slice(b"&&");

    let first_data = h.cp.of(&first.raw);
    let data_time = leading_data_time(first_data);
    let mut any = false;
    for (i, part) in m.parts.values().map(|(_, f)| f).enumerate() {
        let mut data = part.parsed.header.cp.of(&part.raw);
        if i > 0 {
            if let (Some(dt), Some(mine)) = (data_time, leading_data_time(data)) {
                if dt == mine {
                    data = data.get(mine.len()..).unwrap_or_default();
                    data = data.strip_prefix(b";").unwrap_or(data);
                }
            }
        }
        if data.is_empty() {
            continue;
        }
        if any {
            seg.push(b';');
        }
        seg.extend_from_slice(data);
        any = true;
    }
    seg.extend_from_slice(b"&&");

    let opts = Options {
        max_segment: seg.len().max(MAX_SEGMENT),
        ..Options::lenient()
    };
    let mut joined = Frame::parse_segment(&seg, &opts)?;
    let mut warnings = Vec::new();
    for w in m.parts.values().flat_map(|(_, f)| f.warnings.iter()) {
        if !warnings.contains(w) {
            warnings.push(w.clone());
        }
    }
    for w in joined.warnings.drain(..) {
        if w.code != WarnCode::CpLength && !warnings.contains(&w) {
            warnings.push(w);
        }
    }
    joined.warnings = warnings;
    Ok(joined)
}
