//! Reading accounts and providers: the list, one account or provider, resolving a name the
//! person typed, and the provider an account may still use (S24).

use super::{binding_broken, provider_changed, view, AccountView, Accounts};
use crate::errors::{ExitClass, UserError};
use crate::provider::{self, ProviderSpec};
use crate::vault::index::{AccountEntry, AccountKind};

impl Accounts {
    /// All accounts, oldest first.
    pub fn list(&self) -> Result<Vec<AccountView>, UserError> {
        let idx = self.vault.index()?;
        let now = crate::clock::now();
        // Each provider is looked up once (a built-in one means building the presets), so a
        // thousand accounts of a few providers cost a few lookups (issue 29).
        let mut found: std::collections::HashMap<&str, Option<ProviderSpec>> =
            std::collections::HashMap::new();
        Ok(idx
            .accounts
            .iter()
            .map(|a| {
                let p = found
                    .entry(a.provider.as_str())
                    .or_insert_with(|| provider::find(&a.provider, &idx.providers));
                view(a, p.as_ref(), now)
            })
            .collect())
    }

    /// Built-in providers followed by the person's own.
    pub fn providers(&self) -> Result<Vec<ProviderSpec>, UserError> {
        let idx = self.vault.index()?;
        let mut all = provider::presets();
        all.retain(|p| !idx.providers.iter().any(|u| u.id == p.id));
        all.extend(idx.providers);
        Ok(all)
    }

    /// One provider by id, with a fix naming the available ones.
    pub fn provider(&self, id: &str) -> Result<ProviderSpec, UserError> {
        let idx = self.vault.index()?;
        provider::find(id, &idx.providers).ok_or_else(|| {
            UserError::new(
                "unknown_provider",
                format!("There is no provider called {id:?}."),
                "Run `latchkey providers` to see them, or add one with `latchkey provider add`.",
                ExitClass::Other,
            )
        })
    }

    /// The account a sign-in may replace ("Sign in again"): only one of the same provider and
    /// kind (S24), whatever the window asked for.
    pub(super) fn replaceable(
        &self,
        id: &str,
        provider_id: &str,
        kind: AccountKind,
    ) -> Result<AccountEntry, UserError> {
        let a = self.account(id)?;
        if a.provider != provider_id || a.kind != kind {
            tracing::warn!(account = %id, "refused to replace an account of another provider or kind");
            return Err(UserError::new(
                "wrong_account",
                format!("Account {id} belongs to another provider or kind of sign-in, so this sign-in can't replace it."),
                format!("Sign in again from that account's own menu, or run: latchkey login {}", a.provider),
                ExitClass::Other,
            ));
        }
        Ok(a)
    }

    /// The provider an account may use: its entry must still match where the account's
    /// tokens were allowed to go at sign-in (S24).
    pub fn bound_provider(&self, entry: &AccountEntry) -> Result<ProviderSpec, UserError> {
        let idx = self.vault.index()?;
        let p = provider::find(&entry.provider, &idx.providers);
        if binding_broken(entry, p.as_ref()) {
            tracing::warn!(account = %entry.id, provider = %entry.provider, "the provider entry changed since sign-in; nothing is sent");
            return Err(provider_changed(&entry.id, &entry.provider));
        }
        p.ok_or_else(|| provider_changed(&entry.id, &entry.provider))
    }

    /// One account's index entry.
    pub fn account(&self, id: &str) -> Result<AccountEntry, UserError> {
        self.vault
            .index()?
            .account(id)
            .cloned()
            .ok_or_else(|| super::unknown_account(id))
    }

    /// The account `name` picks, for handing out its token: one read of the index resolves
    /// the name and checks that its provider entry still matches the sign-in (S24). `token`
    /// runs this on its fast path, in scripts' loops.
    pub fn account_to_hand_out(&self, name: Option<&str>) -> Result<AccountEntry, UserError> {
        let idx = self.vault.index()?;
        let id = resolve_in(&idx, name)?;
        let entry = idx
            .account(&id)
            .cloned()
            .ok_or_else(|| super::unknown_account(&id))?;
        if binding_broken(
            &entry,
            provider::find(&entry.provider, &idx.providers).as_ref(),
        ) {
            return Err(provider_changed(&entry.id, &entry.provider));
        }
        Ok(entry)
    }

    /// Picks an account from a name: id, `provider:handle`, unique prefix, the provider's only
    /// account, or the default. Ambiguity lists the candidates.
    pub fn resolve(&self, name: Option<&str>) -> Result<String, UserError> {
        resolve_in(&self.vault.index()?, name)
    }
}

/// [`Accounts::resolve`] over an index. A name that is a provider's id (built in or the
/// person's) means that provider's accounts only: it never falls back to an id prefix, so
/// `github` never picks `github-example-com-…` (F8).
pub(super) fn resolve_in(
    idx: &crate::vault::index::Index,
    name: Option<&str>,
) -> Result<String, UserError> {
    let ids = |v: &[&AccountEntry]| {
        v.iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(name) = name else {
        return match (idx.accounts.as_slice(), &idx.default_account) {
            ([only], _) => Ok(only.id.clone()),
            (_, Some(d)) if idx.account(d).is_some() => Ok(d.clone()),
            ([], _) => Err(UserError::new(
                "no_accounts",
                "You have no accounts yet.",
                "Run: latchkey login taskade (or add-token)",
                ExitClass::Other,
            )),
            (all, _) => Err(UserError::new(
                "ambiguous_account",
                format!(
                    "Which account? You have {}: {}.",
                    all.len(),
                    ids(&all.iter().collect::<Vec<_>>())
                ),
                "Name one, e.g. `latchkey token ID`.",
                ExitClass::Other,
            )),
        };
    };
    if idx.account(name).is_some() {
        return Ok(name.to_string());
    }
    if let Some((p, who)) = name.split_once(':') {
        let m: Vec<_> = idx
            .accounts
            .iter()
            .filter(|a| a.provider == p && a.identity.as_deref() == Some(who))
            .collect();
        if let [one] = m.as_slice() {
            return Ok(one.id.clone());
        }
    }
    let by_provider: Vec<_> = idx.accounts.iter().filter(|a| a.provider == name).collect();
    if let [one] = by_provider.as_slice() {
        return Ok(one.id.clone());
    }
    if by_provider.is_empty() && provider::find(name, &idx.providers).is_some() {
        return Err(UserError::new(
                "unknown_account",
                format!("You have no account at {name}."),
                format!("Sign in first: latchkey login {name} (or run `latchkey list` to see your accounts)."),
                ExitClass::Other,
            ));
    }
    let by_prefix: Vec<_> = idx
        .accounts
        .iter()
        .filter(|a| a.id.starts_with(name))
        .collect();
    match (by_prefix.as_slice(), by_provider.as_slice()) {
        ([one], _) => Ok(one.id.clone()),
        (_, [_, _, ..]) | ([_, _, ..], _) => {
            let c = if by_provider.len() > 1 {
                &by_provider
            } else {
                &by_prefix
            };
            Err(UserError::new(
                "ambiguous_account",
                format!("{name:?} matches {} accounts: {}.", c.len(), ids(c)),
                "Use the full account id.",
                ExitClass::Other,
            ))
        }
        _ => Err(UserError::new(
            "unknown_account",
            format!("There is no account {name:?}."),
            "Run `latchkey list` to see your accounts.",
            ExitClass::Other,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::index::{AccountStatus, Index};

    fn entry(id: &str, provider: &str) -> AccountEntry {
        AccountEntry {
            id: id.into(),
            provider: provider.into(),
            label: None,
            identity: None,
            scopes: vec![],
            expires_at: None,
            status: AccountStatus::Valid,
            kind: AccountKind::Oauth,
            client_id: None,
            created: 1,
            updated: 1,
            last_refresh: None,
            binding: None,
            subject: None,
            policy: None,
            approvals: Vec::new(),
        }
    }

    /// F8: a provider's id never resolves to another provider's account by prefix.
    #[test]
    fn a_provider_name_never_matches_another_providers_account_by_prefix() {
        let mut idx = Index::default();
        let mut own = ProviderSpec::new("github-example-com", "GitHub Enterprise");
        own.issuer = Some("https://github.example.com".into());
        idx.providers.push(own);
        idx.accounts
            .push(entry("github-example-com-1a2b3c", "github-example-com"));
        idx.accounts.push(entry("taskade-9f9f9f", "taskade"));
        let e = resolve_in(&idx, Some("github")).unwrap_err();
        assert_eq!(e.code, "unknown_account");
        assert!(e.fix.contains("latchkey login github"), "{}", e.fix);
        // Prefixes of account ids still work, and so does a provider with one account.
        assert_eq!(
            resolve_in(&idx, Some("github-ex")).unwrap(),
            "github-example-com-1a2b3c"
        );
        assert_eq!(resolve_in(&idx, Some("taskade")).unwrap(), "taskade-9f9f9f");
        assert_eq!(
            resolve_in(&idx, Some("github-example-com")).unwrap(),
            "github-example-com-1a2b3c"
        );
    }
}
