//! The words on the web pages, per language, in one place per area ([`texts!`] makes a struct
//! with one field per text and a constant per language, so a text missing in one language does
//! not compile). `{name}`-style placeholders are filled by the page code, never by templates.

/// The languages of the web pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Sv,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Sv];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Sv => "sv",
        }
    }

    /// The language's own name, for the switch.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Sv => "Svenska",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }

    /// The first language of an `Accept-Language` header that we have, by its q-values;
    /// English when none.
    pub fn negotiate(accept: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in accept.split(',') {
            let mut bits = part.split(';');
            let tag = bits.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = bits
                .find_map(|b| b.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            if let Some(lang) = Lang::parse(primary)
                && q > 0.0
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or_default()
    }
}

/// `texts! { Name { key: "English", "Svenska"; … } }`: a struct `Name` of `&'static str`
/// fields, with `Name::get(lang)`.
#[macro_export]
macro_rules! texts {
    ($(#[$meta:meta])* $name:ident { $($key:ident: $en:expr, $sv:expr;)* }) => {
        $(#[$meta])*
        pub struct $name { $(pub $key: &'static str,)* }
        impl $name {
            pub const EN: $name = $name { $($key: $en,)* };
            pub const SV: $name = $name { $($key: $sv,)* };
            pub fn get(lang: $crate::http::web::texts::Lang) -> &'static $name {
                match lang {
                    $crate::http::web::texts::Lang::En => &Self::EN,
                    $crate::http::web::texts::Lang::Sv => &Self::SV,
                }
            }
        }
    };
}

texts! {
    /// What every page says: the frame, errors, sign-in, the account page.
    Common {
        skip: "Skip to content", "Hoppa till innehållet";
        home: "Home", "Start";
        sign_in: "Sign in", "Logga in";
        sign_out: "Sign out", "Logga ut";
        account: "Your account", "Ditt konto";
        language: "Language", "Språk";
        change_language: "Change", "Byt";
        administration: "Administration", "Administration";
        nav_overview: "Overview", "Översikt";
        nav_groups: "Groups", "Grupper";
        nav_moderation: "Moderation", "Moderering";
        nav_people: "People", "Personer";
        nav_import: "Import", "Import";
        nav_accounts: "Accounts", "Konton";
        nav_audit: "Audit log", "Logg";
        nav_queue: "Queue", "Kö";
        not_found_title: "Not found", "Hittades inte";
        not_found: "There is nothing here, or it is not yours to see.", "Här finns inget, eller inget som du får se.";
        forbidden_title: "Not allowed", "Inte tillåtet";
        refused_title: "Refused", "Nekat";
        csrf: "This form is out of date or did not come from this site. Go back, reload the page and try again.", "Formuläret är för gammalt eller kom inte från den här webbplatsen. Gå tillbaka, ladda om sidan och försök igen.";
        signed_out_post: "You are signed out, so nothing was changed. Sign in and try again.", "Du är utloggad, så inget ändrades. Logga in och försök igen.";
        no_account_title: "No administrator account", "Inget administratörskonto";
        no_account: "Your address {email} has no administrator account here. Ask an owner of the organisation to make one.", "Din adress {email} har inget administratörskonto här. Be en ägare i organisationen att skapa ett.";
        unavailable_title: "Try again later", "Försök igen senare";
        unavailable: "The server cannot answer right now (see its log). Nothing was changed; try again in a moment.", "Servern kan inte svara just nu (se dess logg). Inget ändrades; försök igen om en stund.";
        too_large: "What you sent is too large.", "Det du skickade är för stort.";
        back: "Back", "Tillbaka";
        signin_title: "Sign in", "Logga in";
        signin_intro: "Enter your e-mail address. We mail you a link that signs you in; no password needed.", "Skriv din e-postadress. Vi skickar en länk som loggar in dig; inget lösenord behövs.";
        signin_address: "E-mail address", "E-postadress";
        signin_send: "Mail me a sign-in link", "Skicka en inloggningslänk";
        signin_sent_title: "Check your mail", "Titta i din e-post";
        signin_sent: "If {email} is known here, a sign-in link is on its way. It works once, for {minutes} minutes.", "Om {email} är känd här är en inloggningslänk på väg. Den fungerar en gång, i {minutes} minuter.";
        signin_invalid_address: "{email} is not an e-mail address.", "{email} är ingen e-postadress.";
        signin_limited: "Too many sign-in links were asked for, for this address or from your network. Wait an hour and try again.", "För många inloggningslänkar har begärts för den här adressen eller från ditt nätverk. Vänta en timme och försök igen.";
        signin_confirm_title: "Sign in as {email}?", "Logga in som {email}?";
        signin_confirm: "Press the button to sign in on this device.", "Tryck på knappen för att logga in på den här enheten.";
        signin_button: "Sign in", "Logga in";
        signin_used: "This sign-in link was used already: each link works once. Ask for a new one.", "Den här inloggningslänken är redan använd: varje länk fungerar en gång. Be om en ny.";
        signin_expired: "This sign-in link has expired. Ask for a new one.", "Den här inloggningslänken har gått ut. Be om en ny.";
        signin_unknown: "This sign-in link is not valid (it may have been cut off). Ask for a new one.", "Den här inloggningslänken är inte giltig (den kan ha kapats av). Be om en ny.";
        signin_again: "Mail me a new link", "Skicka en ny länk";
        welcome: "Signed in as {email}.", "Inloggad som {email}.";
        home_intro: "What you can do here:", "Det här kan du göra här:";
        home_admin: "Run the organisation's groups and lists", "Sköt organisationens grupper och listor";
        account_title: "Your account", "Ditt konto";
        sessions: "Where you are signed in", "Där du är inloggad";
        session_this: "this browser", "den här webbläsaren";
        session_started: "Signed in", "Inloggad";
        session_seen: "Last used", "Senast använd";
        session_from: "From", "Från";
        session_end: "Sign out there", "Logga ut där";
        session_end_all: "Sign out everywhere", "Logga ut överallt";
        sessions_ended: "Signed out everywhere.", "Utloggad överallt.";
        session_ended: "That session has ended.", "Den sessionen är avslutad.";
        tokens: "API tokens", "API-nycklar";
        tokens_intro: "A token lets a program use the administration API as you (docs/api.md). It is shown once, when you make it.", "En nyckel låter ett program använda administrations-API:t som du (docs/api.md). Den visas en gång, när du skapar den.";
        token_name: "Name", "Namn";
        token_made: "Made", "Skapad";
        token_used: "Last used", "Senast använd";
        token_never: "never", "aldrig";
        token_create: "Make a token", "Skapa en nyckel";
        token_revoke: "Revoke", "Återkalla";
        token_revoked: "The token is revoked.", "Nyckeln är återkallad.";
        token_new: "Your new token “{name}”. Copy it now: it is not shown again.", "Din nya nyckel ”{name}”. Kopiera den nu: den visas inte igen.";
        token_none: "You have no tokens.", "Du har inga nycklar.";
        no_tokens_without_account: "API tokens are for administrators; your address has no administrator account.", "API-nycklar är för administratörer; din adress har inget administratörskonto.";
        roles: "Your roles", "Dina roller";
        roles_none: "None yet: an owner can give you a role.", "Inga ännu: en ägare kan ge dig en roll.";
        role_scope_org: "the whole organisation", "hela organisationen";
        times_utc: "Times are UTC.", "Tider i UTC.";
    }
}
