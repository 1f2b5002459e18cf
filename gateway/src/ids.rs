//! OpenCode's identifiers: `<prefix>_<12 hex><14 base62>`.
//!
//! The TUI keeps messages and parts in arrays sorted by id and finds them by
//! binary search, and lists sessions newest first by id, so the format is part
//! of the protocol (PROTOCOL.md §5.1): the hex is the low 48 bits of
//! `millis * 4096 + counter`, inverted for descending ids, and the counter
//! restarts with every new millisecond. One generator serves the whole
//! process, so ids made on different threads still sort in creation order.

use rand::Rng;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// What an id names, with the direction it sorts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    /// `ses`: newest first.
    Session,
    /// `msg`: oldest first.
    Message,
    /// `prt`: oldest first.
    Part,
    /// `evt`: oldest first.
    Event,
    /// `per`: oldest first.
    Permission,
    /// `que`: oldest first.
    Question,
}

impl Prefix {
    /// The prefix as it appears before the underscore.
    pub fn as_str(self) -> &'static str {
        match self {
            Prefix::Session => "ses",
            Prefix::Message => "msg",
            Prefix::Part => "prt",
            Prefix::Event => "evt",
            Prefix::Permission => "per",
            Prefix::Question => "que",
        }
    }

    fn descending(self) -> bool {
        self == Prefix::Session
    }

    /// Whether `id` carries this prefix (what the reference validates).
    pub fn matches(self, id: &str) -> bool {
        id.strip_prefix(self.as_str()).is_some_and(|rest| rest.starts_with('_'))
    }
}

/// The last value handed out (`millis * 4096 + counter`).
static CLOCK: Mutex<u64> = Mutex::new(0);

/// A new id with `prefix`.
pub fn new(prefix: Prefix) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let value = {
        let mut last = CLOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Strictly after the last one, always: a new millisecond starts its
        // count again, but neither a clock step backwards nor more than 4096
        // ids in one millisecond (which carry into the next) goes back.
        *last = (now.wrapping_mul(4096) + 1).max(*last + 1);
        *last
    };
    let value = if prefix.descending() { !value } else { value } & 0xffff_ffff_ffff;
    let mut id = format!("{}_{value:012x}", prefix.as_str());
    const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    id.extend((0..14).map(|_| BASE62[rng.random_range(0..BASE62.len())] as char));
    id
}

/// How far ahead of this server's clock a client's id may be: more than
/// any honest clock skew, little enough that no client can push the ids
/// this server makes far ahead of its own clock (they would sort after
/// the ids it makes once restarted).
const MAX_AHEAD_MILLIS: u64 = 5 * 60 * 1000;

/// Checks an ascending id a client chose (a message's or a part's) and
/// makes every id made here later sort after it. The reference takes such
/// ids as they come; here one from the future is refused, since everything
/// made after it (the answer to a message) would sort before it: a turn
/// would never see its own reply. A client's clock a little ahead of this
/// server's is fine.
pub fn accept(prefix: Prefix, id: &str) -> Result<(), String> {
    let hex = id.strip_prefix(prefix.as_str()).and_then(|rest| rest.strip_prefix('_')).and_then(|rest| rest.get(..12));
    let value = hex.and_then(|hex| u64::from_str_radix(hex, 16).ok());
    let Some(value) = value.filter(|_| !prefix.descending()) else {
        return Err(format!("{id:?} is not a {} id", prefix.as_str()));
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let mut last = CLOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let current = (now.wrapping_mul(4096)).max(*last);
    // The 48 bits wrap every two years or so: ahead means by less than half that.
    let ahead = value.wrapping_sub(current) & 0xffff_ffff_ffff;
    if ahead < 1 << 47 {
        if ahead > MAX_AHEAD_MILLIS * 4096 {
            return Err(format!("{id} was made by a clock more than five minutes ahead of this server's"));
        }
        *last = current + ahead;
    }
    Ok(())
}

/// A 26-character ULID-like id, what the reference gives shell-mode tool calls.
pub fn call_id() -> String {
    const CROCKFORD: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut rng = rand::rng();
    (0..26).map(|_| CROCKFORD[rng.random_range(0..CROCKFORD.len())] as char).collect()
}

/// Milliseconds since the Unix epoch, the unit of every OpenCode timestamp.
pub fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// `millis` as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn iso8601(millis: i64) -> String {
    let (days, rest) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (hours, minutes, seconds, ms) = (rest / 3_600_000, rest / 60_000 % 60, rest / 1000 % 60, rest % 1000);
    format!("{year:04}-{month:02}-{day:02}T{hours:02}:{minutes:02}:{seconds:02}.{ms:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_a_client_made_ahead_is_followed_by_ours_and_one_from_the_future_refused() {
        let ours = new(Prefix::Message);
        let value = u64::from_str_radix(&ours[4..16], 16).unwrap();
        let ahead = format!("msg_{:012x}AAAAAAAAAAAAAA", (value + 60_000 * 4096) & 0xffff_ffff_ffff);
        assert_eq!(accept(Prefix::Message, &ahead), Ok(()));
        assert!(new(Prefix::Message) > ahead, "made after a client's id a minute ahead, ours sorts after it");
        let behind = format!("msg_{:012x}AAAAAAAAAAAAAA", value - 4096);
        assert_eq!(accept(Prefix::Message, &behind), Ok(()));
        let future = format!("msg_{:012x}AAAAAAAAAAAAAA", (value + 10 * MAX_AHEAD_MILLIS * 4096) & 0xffff_ffff_ffff);
        assert!(accept(Prefix::Message, &future).unwrap_err().contains("ahead"));
        assert!(accept(Prefix::Message, "msg_nothex").is_err());
        assert!(accept(Prefix::Session, &new(Prefix::Session)).is_err(), "only ascending ids");
    }

    #[test]
    fn ascending_ids_sort_in_creation_order_and_sessions_newest_first() {
        let messages: Vec<String> = (0..5000).map(|_| new(Prefix::Message)).collect();
        assert!(messages.windows(2).all(|w| w[0] < w[1]), "message ids must ascend");
        let sessions: Vec<String> = (0..5000).map(|_| new(Prefix::Session)).collect();
        assert!(sessions.windows(2).all(|w| w[0] > w[1]), "session ids must descend");
        assert!(messages.iter().all(|id| id.len() == 30 && Prefix::Message.matches(id)));
    }

    #[test]
    fn the_timestamp_can_be_read_back() {
        let before = now_millis() as u64;
        let id = new(Prefix::Part);
        let value = u64::from_str_radix(&id[4..16], 16).unwrap();
        let millis = value / 4096;
        assert!(millis >= before & 0xf_ffff_ffff, "the id keeps the low 36 bits of the time");
    }

    #[test]
    fn iso8601_matches_known_instants() {
        assert_eq!(super::iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::iso8601(1_795_590_239_948), "2026-11-25T07:03:59.948Z");
        assert_eq!(super::iso8601(951_782_400_123), "2000-02-29T00:00:00.123Z");
    }
}
