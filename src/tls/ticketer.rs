//! Session tickets that every worker can decrypt, with rotation and no coordination.
//!
//! The master draws a random 32-byte secret before the first fork (and keeps it across
//! HUP, so a configuration reload does not invalidate tickets). Each worker derives the key
//! for time period `p` as HKDF-SHA256(secret, "runicorn ticket v1" ‖ p) and seals tickets
//! with AES-256-GCM under the current period's key. Because the derivation is
//! deterministic and the clock is shared, all workers rotate at the same instant without
//! talking, and a ticket issued by one worker resumes on any other.
//!
//! Tickets from the current and the previous period are accepted, so a ticket is usable
//! for at least one full period. Known limit: the period keys are derived from one
//! long-lived secret, so rotation bounds ticket *lifetime* but not the damage of a leaked
//! secret (it would decrypt tickets of every period while the master lives). A USR2
//! re-exec draws a new secret (old tickets then fall back to full handshakes).

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use rustls::server::ProducesTickets;

/// Rotation period; also the lifetime advertised to clients.
pub(crate) const PERIOD_SECS: u64 = 6 * 3600;

const HEADER: usize = 8 + NONCE_LEN;

/// The master's ticket secret.
pub(crate) type Secret = [u8; 32];

/// A fresh secret straight from the kernel. Not aws-lc's RNG: its first use seeds from
/// CPU-jitter entropy, which took ~35 ms idle and close to a second on a loaded 2-core
/// machine (debug build) and would delay every master start, USR2 re-exec included. The
/// master stays free of library RNG state to inherit across fork, too.
pub(crate) fn new_secret() -> Result<Secret, String> {
    use std::io::Read;
    let mut s = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut s))
        .map_err(|e| format!("cannot read /dev/urandom for the TLS ticket secret: {e}"))?;
    Ok(s)
}

/// Stateless ticket sealer shared (by derivation) between workers.
pub(crate) struct Ticketer {
    secret: Secret,
    period: u64,
}

impl std::fmt::Debug for Ticketer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticketer")
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

impl Ticketer {
    pub(crate) fn new(secret: Secret) -> Ticketer {
        Ticketer {
            secret,
            period: PERIOD_SECS,
        }
    }

    fn current_period(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            / self.period
    }

    fn key(&self, period: u64) -> Option<LessSafeKey> {
        let prk = Salt::new(HKDF_SHA256, b"runicorn ticket v1").extract(&self.secret);
        let info = period.to_be_bytes();
        let info = [&info[..]];
        let okm = prk.expand(&info, &AES_256_GCM).ok()?;
        Some(LessSafeKey::new(UnboundKey::from(okm)))
    }

    fn seal(&self, period: u64, plain: &[u8]) -> Option<Vec<u8>> {
        let key = self.key(period)?;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).ok()?;
        let p = period.to_be_bytes();
        let mut out = Vec::with_capacity(HEADER + plain.len() + AES_256_GCM.tag_len());
        out.extend_from_slice(&p);
        out.extend_from_slice(&nonce);
        let mut body = plain.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&p),
            &mut body,
        )
        .ok()?;
        out.extend_from_slice(&body);
        Some(out)
    }

    fn open(&self, now_period: u64, ticket: &[u8]) -> Option<Vec<u8>> {
        if ticket.len() < HEADER + AES_256_GCM.tag_len() {
            return None;
        }
        let (p, rest) = ticket.split_at(8);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let period = u64::from_be_bytes(p.try_into().ok()?);
        if period != now_period && period.checked_add(1) != Some(now_period) {
            return None;
        }
        let key = self.key(period)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = sealed.to_vec();
        let plain = key.open_in_place(nonce, Aad::from(p), &mut body).ok()?;
        Some(plain.to_vec())
    }
}

impl ProducesTickets for Ticketer {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        u32::try_from(self.period).unwrap_or(u32::MAX)
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.seal(self.current_period(), plain)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.open(self.current_period(), cipher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_secret_same_keys_across_instances() {
        let s = new_secret().unwrap();
        let (a, b) = (Ticketer::new(s), Ticketer::new(s));
        let t = a.encrypt(b"session state").unwrap();
        assert_eq!(b.decrypt(&t).as_deref(), Some(&b"session state"[..]));
        assert_eq!(Ticketer::new(new_secret().unwrap()).decrypt(&t), None);
    }

    #[test]
    fn rotation_accepts_one_previous_period_only() {
        let t = Ticketer::new([7; 32]);
        let sealed = t.seal(100, b"x").unwrap();
        assert!(t.open(100, &sealed).is_some());
        assert!(t.open(101, &sealed).is_some());
        assert!(t.open(102, &sealed).is_none());
        assert!(t.open(99, &sealed).is_none());
        // A forged period header breaks authentication.
        let mut forged = sealed.clone();
        forged[7] ^= 1;
        assert!(t.open(101, &forged).is_none());
    }

    #[test]
    fn garbage_is_refused_without_panic() {
        let t = Ticketer::new([1; 32]);
        for n in 0..64 {
            assert!(t.decrypt(&vec![0xab; n]).is_none());
        }
    }
}
