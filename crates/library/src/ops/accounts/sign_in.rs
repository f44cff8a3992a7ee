//! Signing in with a name and password, throttled so that a stranger guessing is slowed without
//! ever locking the owner out (see [`sign_in`]). Failure counts live in the database, so they
//! hold across restarts and across servers sharing it.

use std::net::IpAddr;

use db::User;

use super::secrets::{decoy_hash, verify_password};
use crate::ops::{Error, Result};

/// Failed sign-ins allowed before each further try must wait.
const FREE_FAILURES: u32 = 5;
/// The longest wait.
const MAX_WAIT_MS: i64 = 15 * 60 * 1000;

/// How long a subject must still wait before its next try, in ms (0: it may try now). The wait
/// doubles with each failure past the free ones: 1 s, 2 s, 4 s … up to 15 minutes.
fn wait_ms(failures: u32, last_at: i64, now: i64) -> i64 {
    wait_after(FREE_FAILURES, failures, last_at, now)
}

/// [`wait_ms`] with `free` failures before the first wait.
fn wait_after(free: u32, failures: u32, last_at: i64, now: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let wait = (1000i64 << (failures - free).min(20)).min(MAX_WAIT_MS);
    (last_at + wait - now).max(0)
}

/// Failures of one account, from all addresses together, before its ceiling starts to slow the
/// addresses that failed on it.
const ACCOUNT_CEILING: u32 = 20;

/// Checks a name and password; answers the user. Failures are throttled so that a stranger is
/// slowed without locking the owner out:
/// - per address (`addr:`), whatever the names tried;
/// - per account and address (`user:NAME@ADDR`): guessing one account from one place;
/// - per account from everywhere (`user:NAME`), with a higher allowance: this ceiling slows only
///   addresses that have failed themselves, so the right password from an address without
///   failures is always let through, while an attacker spread over many addresses gets a try or
///   two from each.
///
/// A right password clears the counts of its address and of the account at that address.
pub fn sign_in(db: &db::Db, name: &str, password: &str, addr: IpAddr) -> Result<User> {
    let account = name.trim().to_lowercase();
    let by_addr = format!("addr:{addr}");
    let here = format!("user:{account}@{addr}");
    let everywhere = format!("user:{account}");
    let now = db::now_ms();
    let accounts = db.accounts();
    let mut wait = 0;
    let mut failed_here = false;
    for s in [&by_addr, &here] {
        if let Some((failures, last_at)) = accounts.failures(s)? {
            failed_here |= failures > 0;
            wait = wait.max(wait_ms(failures, last_at, now));
        }
    }
    if failed_here && let Some((failures, last_at)) = accounts.failures(&everywhere)? {
        wait = wait.max(wait_after(ACCOUNT_CEILING, failures, last_at, now));
    }
    if wait > 0 {
        return Err(Error::TooManyAttempts {
            retry_after_s: (wait + 999) / 1000,
        });
    }
    let user = accounts.user(name)?;
    let ok = match &user {
        Some(u) => verify_password(password, &u.password_hash),
        None => {
            verify_password(password, decoy_hash());
            false
        }
    };
    match user {
        Some(u) if ok => {
            accounts.clear_failures(&here)?;
            accounts.clear_failures(&by_addr)?;
            Ok(u)
        }
        _ => {
            accounts.record_failure(&[&by_addr, &here, &everywhere])?;
            Err(Error::WrongCredentials)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_and_stop_growing() {
        assert_eq!(wait_ms(4, 0, 0), 0);
        assert_eq!(wait_ms(5, 0, 0), 1000);
        assert_eq!(wait_ms(6, 0, 0), 2000);
        assert_eq!(wait_ms(6, 0, 1500), 500);
        assert_eq!(wait_ms(40, 0, 0), MAX_WAIT_MS);
        assert_eq!(wait_after(ACCOUNT_CEILING, 19, 0, 0), 0);
        assert_eq!(wait_after(ACCOUNT_CEILING, 20, 0, 0), 1000);
    }
}
