//! Sign-in by mail link, for anyone the organisation knows: the one sign-in of the
//! administrators' interface, the archives and the members' own page.
//!
//! 1. [`Signin::request`]: an address (and where to go afterwards) → if the address is a person
//!    of ours, a single-use link valid `web.signin_link_lifetime` is mailed through the normal
//!    queue. The answer is the same for every address (no oracle of who is known); the mail is
//!    written after the answer, so the answer takes as long for a stranger. Requests are limited
//!    per address and per client address, counted in the database (several instances share it).
//! 2. [`Signin::peek`]: what a link is (GET shows a button; it never signs in, so the link
//!    scanners of mail providers cannot spend it).
//! 3. [`Signin::redeem`]: the button's POST spends the link and starts a session, in one
//!    transaction. The session's cookie value is returned once; only its hash is stored.
//! 4. [`Signin::session`]: the session behind a cookie while it lives (not revoked, not idle
//!    past `web.session_idle_timeout`, not older than `web.session_max_age`).
//!
//! Who a signed-in person is to the administrators' interface (their account, roles and
//! scopes) is decided per request elsewhere (`http::web`); this module knows people only.

pub mod texts;

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::{
    admin::access::hash_token,
    clock::SharedClock,
    config::WebConfig,
    model::address::EmailAddress,
    notices::{SystemSender, system_post},
    queue::Queue,
    store::{
        Store, StoreError,
        signin::{NewSession, Session, SigninLink},
    },
    tokens::random_secret,
};

const HOUR_MS: i64 = 3_600_000;
/// How often the last-seen time of a session is written (not on every request).
const TOUCH_EVERY_MS: i64 = 60_000;

/// The `[web]` settings that sign-in needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub link_lifetime: Duration,
    pub idle_timeout: Duration,
    pub max_age: Duration,
    pub per_address: u32,
    pub per_client: u32,
}

impl From<&WebConfig> for Settings {
    fn from(w: &WebConfig) -> Self {
        Settings {
            link_lifetime: w.signin_link_lifetime,
            idle_timeout: w.session_idle_timeout,
            max_age: w.session_max_age,
            per_address: w.signin_limit_per_address,
            per_client: w.signin_limit_per_client,
        }
    }
}

/// What became of a request for a link (the same for known and unknown addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// A link is on its way if the address is known.
    Accepted,
    /// Too many requests for this address or from this client within the hour.
    Limited,
}

/// What a link is, when opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    Valid(SigninLink),
    Used,
    Expired,
    Unknown,
}

/// A session just started: the cookie's value (shown once), and where to go.
#[derive(Debug, Clone)]
pub struct Started {
    pub cookie: String,
    pub person_id: i64,
    pub next_path: Option<String>,
}

#[derive(Clone)]
pub struct Signin {
    store: Store,
    queue: Queue,
    clock: SharedClock,
    settings: Settings,
    sender: SystemSender,
    site_name: String,
    public_url: String,
}

fn hash_address(address: &EmailAddress) -> String {
    Sha256::digest(address.key().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Signin {
    pub fn new(
        store: Store,
        queue: Queue,
        clock: SharedClock,
        settings: Settings,
        sender: SystemSender,
        public_url: &str,
    ) -> Signin {
        Signin {
            store,
            queue,
            clock,
            settings,
            site_name: sender.name.clone(),
            sender,
            public_url: public_url.trim_end_matches('/').to_string(),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Who the server's own mail to a person comes from.
    pub fn sender(&self) -> &SystemSender {
        &self.sender
    }

    /// Asks for a link to `address` from `client`; `next_path` must already be one of our
    /// paths (the caller checks). The mail, if any, is written after this returns.
    pub async fn request(
        &self,
        address: &EmailAddress,
        client: &str,
        next_path: Option<&str>,
        language: &str,
    ) -> Result<Requested, StoreError> {
        let now = self.clock.now_ms();
        let limits = (
            i64::from(self.settings.per_address),
            i64::from(self.settings.per_client),
        );
        let taken = self
            .store
            .take_signin_request(&hash_address(address), client, now, now - HOUR_MS, limits)
            .await?;
        if !taken {
            tracing::info!(
                client,
                "sign-in request over the hourly limit; no mail sent"
            );
            return Ok(Requested::Limited);
        }
        let this = self.clone();
        let (address, next_path, language) = (
            address.clone(),
            next_path.map(str::to_string),
            language.to_string(),
        );
        tokio::spawn(async move {
            if let Err(e) = this
                .mail_link(&address, next_path.as_deref(), &language)
                .await
            {
                tracing::error!(error = %e, "cannot mail a sign-in link");
            }
        });
        Ok(Requested::Accepted)
    }

    /// Mails a link to `address` if it is a person of ours; strangers get nothing.
    async fn mail_link(
        &self,
        address: &EmailAddress,
        next_path: Option<&str>,
        language: &str,
    ) -> Result<(), StoreError> {
        let Some((person_id, stored)) = self.store.signin_person(&address.key()).await? else {
            return Ok(());
        };
        let link = self.link(person_id, next_path).await?;
        let t = texts::mail(language);
        let minutes = (self.settings.link_lifetime.as_secs() / 60)
            .max(1)
            .to_string();
        let fill = |s: &str| {
            s.replace("{site}", &self.site_name)
                .replace("{minutes}", &minutes)
                .replace("{link}", &link)
        };
        let post = system_post(
            &self.sender,
            self.clock.now_ms(),
            &stored,
            &fill(t.subject),
            &fill(t.body),
        );
        self.queue.enqueue(&[post], &[], &[]).await?;
        tracing::info!(person_id, "sign-in link mailed");
        Ok(())
    }

    /// A new link for `person_id` (also what `circlemail admin sign-in-link` prints).
    pub async fn link(
        &self,
        person_id: i64,
        next_path: Option<&str>,
    ) -> Result<String, StoreError> {
        let now = self.clock.now_ms();
        let token = random_secret("cs_");
        let expires = now + self.settings.link_lifetime.as_millis() as i64;
        self.store
            .create_signin_link(&hash_token(&token), person_id, next_path, now, expires)
            .await?;
        Ok(format!("{}/signin/{token}", self.public_url))
    }

    /// What the link with `token` is; changes nothing.
    pub async fn peek(&self, token: &str) -> Result<LinkState, StoreError> {
        let now = self.clock.now_ms();
        Ok(match self.store.signin_link(&hash_token(token)).await? {
            None => LinkState::Unknown,
            Some(l) if l.used_at.is_some() => LinkState::Used,
            Some(l) if l.expires_at <= now => LinkState::Expired,
            Some(l) => LinkState::Valid(l),
        })
    }

    /// Spends the link and starts a session; `None` when the link is unknown, used or
    /// expired (then [`Signin::peek`] says which).
    pub async fn redeem(
        &self,
        token: &str,
        client: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<Option<Started>, StoreError> {
        let now = self.clock.now_ms();
        let cookie = random_secret("");
        let hash = hash_token(&cookie);
        let session = NewSession {
            token_hash: &hash,
            now,
            expires_at: now + self.settings.max_age.as_millis() as i64,
            client,
            user_agent: user_agent.map(|u| truncate(u, 200)),
        };
        let Some(link) = self
            .store
            .redeem_signin_link(&hash_token(token), &session)
            .await?
        else {
            return Ok(None);
        };
        tracing::info!(person_id = link.person_id, "signed in by mail link");
        self.audit(&link.email, link.person_id, "sign in (web)")
            .await;
        Ok(Some(Started {
            cookie,
            person_id: link.person_id,
            next_path: link.next_path,
        }))
    }

    /// The live session behind a cookie's value; notes that it was used.
    pub async fn session(&self, cookie: &str) -> Result<Option<Session>, StoreError> {
        let now = self.clock.now_ms();
        let Some(s) = self.store.session_by_token(&hash_token(cookie)).await? else {
            return Ok(None);
        };
        let idle = self.settings.idle_timeout.as_millis() as i64;
        let max_age = self.settings.max_age.as_millis() as i64;
        if s.revoked_at.is_some()
            || s.expires_at <= now
            || s.created_at + max_age <= now
            || s.last_seen_at + idle <= now
        {
            return Ok(None);
        }
        if now - s.last_seen_at >= TOUCH_EVERY_MS {
            self.store.touch_session(s.id, now).await?;
        }
        Ok(Some(s))
    }

    /// A person's live sessions, newest first.
    pub async fn sessions(&self, person_id: i64) -> Result<Vec<Session>, StoreError> {
        let now = self.clock.now_ms();
        let idle = self.settings.idle_timeout.as_millis() as i64;
        self.store.live_sessions(person_id, now, now - idle).await
    }

    /// Ends one of `person_id`'s sessions (false: not theirs, or already ended).
    pub async fn sign_out(&self, person_id: i64, session_id: i64) -> Result<bool, StoreError> {
        self.store
            .revoke_session(person_id, session_id, self.clock.now_ms())
            .await
    }

    /// Ends all of `person_id`'s sessions (`actor`: who asked).
    pub async fn sign_out_everywhere(
        &self,
        person_id: i64,
        actor: &str,
    ) -> Result<u64, StoreError> {
        let ended = self
            .store
            .revoke_sessions_of(person_id, self.clock.now_ms())
            .await?;
        self.audit(actor, person_id, "sign out everywhere (web)")
            .await;
        Ok(ended)
    }

    /// Sign-ins are in the audit log (who could see what, and when): never fails the caller.
    async fn audit(&self, actor: &str, person_id: i64, action: &str) {
        let entry = crate::store::accounts::AuditEntry {
            at: self.clock.now_ms(),
            actor: actor.to_string(),
            action: action.to_string(),
            object: Some(format!("people/{person_id}")),
            person_id: Some(person_id),
            ..Default::default()
        };
        if let Err(e) = self.store.append_audit(&entry).await {
            tracing::error!(error = %e, action, "cannot write the audit log");
        }
    }

    /// Forgets requests older than a day, and links and sessions ended more than a day ago.
    pub async fn prune(&self) -> Result<(), StoreError> {
        let day_ago = self.clock.now_ms() - 24 * HOUR_MS;
        let idle = self.settings.idle_timeout.as_millis() as i64;
        self.store
            .prune_signin(day_ago, day_ago, day_ago - idle)
            .await
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
