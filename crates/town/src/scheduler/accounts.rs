//! Provider accounts: which login an agent runs as (`gt account add|list|default`).
//!
//! Each account is a configuration directory of its CLI (where its login lives), handed to
//! the agent through the preset's `config_dir_env` (`CLAUDE_CONFIG_DIR`, …). A start takes
//! the provider's default account unless it is rate-limited, then any other that is not: that
//! is how a rate-limited session rotates to another account when it is restarted. A provider
//! with no registered accounts runs as the CLI's own login, named `<provider>/default`.

use beads::{Account, RateHold};

/// The name holds use for a provider's own login when it has no registered accounts.
pub const IMPLICIT: &str = "default";

/// The account key (`<provider>/<name>`) holds are recorded under.
pub fn key(provider: &str, account: Option<&Account>) -> String {
    format!(
        "{provider}/{}",
        account.map_or(IMPLICIT, |a| a.name.as_str())
    )
}

/// Whether `hold` still holds at `now` (its window has not reset).
pub fn holds(hold: &RateHold, now: jiff::Timestamp) -> bool {
    hold.until
        .parse::<jiff::Timestamp>()
        .map_or(true, |until| until > now)
}

/// The hold in force at `now` on account `key` (`<provider>/<name>`).
pub fn hold_of(
    store: &beads::Store,
    key: &str,
    now: jiff::Timestamp,
) -> beads::Result<Option<RateHold>> {
    Ok(store
        .holds()?
        .into_iter()
        .find(|h| h.account == key && holds(h, now)))
}

/// The hold in force at `now` on the account the agent at `address` was started on; `None`
/// as well for an agent started without an account recorded.
pub fn hold_on(
    store: &beads::Store,
    address: &str,
    now: jiff::Timestamp,
) -> beads::Result<Option<RateHold>> {
    match store.assigned_account(address)? {
        Some((provider, name)) => hold_of(store, &format!("{provider}/{name}"), now),
        None => Ok(None),
    }
}

/// The account a start of `provider` runs as: `Ok(Some)` a registered account that is not
/// held (the default first), `Ok(None)` the CLI's own login (no accounts registered, not
/// held), or `Err` with the hold that ends soonest when every account is held.
pub fn choose(
    store: &beads::Store,
    provider: &str,
    now: jiff::Timestamp,
) -> beads::Result<Result<Option<Account>, RateHold>> {
    let held: Vec<RateHold> = store
        .holds()?
        .into_iter()
        .filter(|h| h.provider == provider && holds(h, now))
        .collect();
    let is_held = |k: &str| held.iter().find(|h| h.account == k).cloned();
    let accounts: Vec<Account> = store
        .accounts()?
        .into_iter()
        .filter(|a| a.provider == provider)
        .collect();
    if accounts.is_empty() {
        return Ok(match is_held(&key(provider, None)) {
            Some(h) => Err(h),
            None => Ok(None),
        });
    }
    // Accounts come default first.
    if let Some(free) = accounts.iter().find(|a| is_held(&a.key()).is_none()) {
        return Ok(Ok(Some(free.clone())));
    }
    Ok(
        match held.into_iter().min_by(|a, b| a.until.cmp(&b.until)) {
            Some(soonest) => Err(soonest),
            None => Ok(accounts.into_iter().next()),
        },
    )
}

/// The variable that puts an agent of `preset` on `account`, if the preset can be moved.
pub fn env_for(
    preset: &crate::agents::AgentPreset,
    account: Option<&Account>,
) -> Option<(String, String)> {
    let account = account?;
    let var = preset.config_dir_env.clone()?;
    Some((var, account.config_dir.clone()))
}
