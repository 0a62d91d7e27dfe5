//! The one table of API routes: method, path, the right each needs, and its documentation.
//! The router registers handlers against it (a handler without a row, or a row without a
//! handler, stops the server at start-up), the OpenAPI document is built from it, and the
//! authorization test walks it, so no route exists without an access rule.

use crate::admin::access::Role;

/// What a route acts on, which decides how a scope applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Any signed-in account; the handler shows only what is in the caller's scopes (lists) or
    /// only the caller's own things (`/me`).
    Any,
    /// The role held in at least one scope.
    Anywhere,
    /// The role held for the whole organisation; otherwise 403.
    Org,
    /// The group `{id}`: the role in a scope containing it. Out of every scope: 404.
    Group,
    /// The group `{id}`, but the role must be held for the whole organisation (a rule can reach
    /// anyone, a retention rule binds everyone); a group seen through a scope only: 403.
    GroupOrgWide,
    /// The person `{id}`: the role in a scope whose root group they are a member of.
    Person,
    /// The held post `{id}`: the role in a scope containing its group.
    Held,
    /// The group named by the body's `parent_id`, or the whole organisation without one
    /// (checked by the handler, which reads the body).
    ParentInBody,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub role: Role,
    pub target: Target,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    /// Lower-case HTTP method.
    pub method: &'static str,
    pub path: &'static str,
    pub rule: Rule,
    pub summary: &'static str,
    /// The request body's schema name in the OpenAPI document, or "".
    pub body: &'static str,
}

impl RouteSpec {
    /// Whether a successful call goes to the audit log: every change, and exports.
    pub fn audited(&self) -> bool {
        self.method != "get" || self.path.ends_with("/export")
    }

    /// Whether its audit entry may hold the object's state before and after. Not for an
    /// export, an erasure or the clean-up: the log would keep the very data they hand out or
    /// remove. Their entries say who did it, to whom, and the request. Nor for an import:
    /// its answer names people (the bad lines).
    pub fn snapshots(&self) -> bool {
        !(self.path.ends_with("/export")
            || self.path.ends_with("/erase")
            || self.path == "/gdpr/cleanup"
            || self.is_import())
    }

    /// Whether the audit entry may keep the request body. Not an import's: it is a file of
    /// people or of their mail (and may be far larger than a JSON request).
    pub fn keeps_request(&self) -> bool {
        !self.is_import()
    }

    fn is_import(&self) -> bool {
        self.path == "/import"
            || self.path.starts_with("/import/")
            || self.path.contains("/archive/imports")
    }
}

use Role::*;
use Target::*;

const fn r(
    method: &'static str,
    path: &'static str,
    role: Role,
    target: Target,
    summary: &'static str,
    body: &'static str,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        rule: Rule { role, target },
        summary,
        body,
    }
}

pub const ROUTES: &[RouteSpec] = &[
    r(
        "get",
        "/people",
        Limited,
        Any,
        "Search people in your scopes by text (address or name), status, membership_type, team; limit/offset",
        "",
    ),
    r(
        "post",
        "/people",
        Administrator,
        Org,
        "Create a person with attributes",
        "PersonInput",
    ),
    r(
        "get",
        "/people/{id}",
        Auditor,
        Person,
        "Read a person with every attribute and membership period",
        "",
    ),
    r(
        "patch",
        "/people/{id}",
        Administrator,
        Person,
        "Update a person; absent fields are kept, null clears name/membership_type",
        "PersonInput",
    ),
    r(
        "delete",
        "/people/{id}",
        Administrator,
        Person,
        "Delete a person with their memberships and opt-outs",
        "",
    ),
    r(
        "get",
        "/people/{id}/opt-outs",
        Auditor,
        Person,
        "A person's opt-outs",
        "",
    ),
    r(
        "post",
        "/people/{id}/opt-outs",
        Administrator,
        Person,
        "Opt a person out of a group's mail (group_id) or of all list mail (no group_id)",
        "OptOutInput",
    ),
    r(
        "delete",
        "/people/{id}/opt-outs/{group}",
        Administrator,
        Person,
        "Undo an opt-out; group is a group id or \"all\"",
        "",
    ),
    r(
        "get",
        "/people/{id}/delivery",
        Auditor,
        Person,
        "How a person gets each list you see (every post, daily/weekly digest, no mail) and their pause",
        "",
    ),
    r(
        "put",
        "/people/{id}/delivery",
        Administrator,
        Person,
        "Set a person's mode on a list (group_id + mode: every, daily, weekly, none) and/or pause all list mail (pause_until: YYYY-MM-DD, null ends it)",
        "DeliveryInput",
    ),
    r(
        "get",
        "/people/{id}/access",
        Auditor,
        Person,
        "Access report: which accounts can see this person's data, and through which grant",
        "",
    ),
    r(
        "get",
        "/people/{id}/export",
        Administrator,
        Person,
        "Everything stored about a person, as JSON (recorded in the audit log)",
        "",
    ),
    r(
        "post",
        "/people/{id}/erase",
        Administrator,
        Person,
        "Erase a person: removes everything not protected by a retention rule; answers what was kept and until when",
        "",
    ),
    r(
        "get",
        "/people/{id}/erase",
        Administrator,
        Person,
        "What erasing the person would remove, and what a retention rule would keep and until when; changes nothing",
        "",
    ),
    r(
        "get",
        "/people/{id}/memberships",
        Auditor,
        Person,
        "The groups in your scopes the person is in today: directly or through which groups (every path), and whether they receive its mail",
        "",
    ),
    r(
        "get",
        "/fields",
        Auditor,
        Anywhere,
        "List custom fields",
        "",
    ),
    r(
        "post",
        "/fields",
        Administrator,
        Org,
        "Create a custom field (single, multiple or checkbox)",
        "FieldInput",
    ),
    r(
        "get",
        "/groups",
        Limited,
        Any,
        "List the groups in your scopes (standard groups included)",
        "",
    ),
    r(
        "post",
        "/groups",
        GroupManager,
        ParentInBody,
        "Create a group, optionally with a list address; parent_id nests it (needed inside a department)",
        "GroupInput",
    ),
    r(
        "get",
        "/groups/standard",
        Limited,
        Any,
        "List the standard groups kept by the system (in your scopes)",
        "",
    ),
    r(
        "get",
        "/groups/{id}",
        Auditor,
        Group,
        "Read a group with its rule, subgroups and retention rule",
        "",
    ),
    r(
        "patch",
        "/groups/{id}",
        GroupManager,
        Group,
        "Rename a group or set/clear its address",
        "GroupInput",
    ),
    r(
        "delete",
        "/groups/{id}",
        GroupManager,
        Group,
        "Delete a group (standard groups: 409, deactivate instead)",
        "",
    ),
    r(
        "post",
        "/groups/{id}/activate",
        GroupManager,
        Group,
        "Activate a group",
        "",
    ),
    r(
        "post",
        "/groups/{id}/deactivate",
        GroupManager,
        Group,
        "Deactivate a group: no members, its address takes no mail",
        "",
    ),
    r(
        "get",
        "/groups/{id}/members",
        Auditor,
        Group,
        "Direct members with role and term",
        "",
    ),
    r(
        "post",
        "/groups/{id}/members",
        GroupManager,
        Group,
        "Add a direct member (person_id or email) with role and optional term",
        "MemberInput",
    ),
    r(
        "patch",
        "/groups/{id}/members/{person}",
        GroupManager,
        Group,
        "Change one membership's role or term (term_from picks the term)",
        "MemberChange",
    ),
    r(
        "post",
        "/groups/{id}/members/copy",
        GroupManager,
        Group,
        "Copy the direct members of another group (in your scopes) with a new term",
        "CopyInput",
    ),
    r(
        "delete",
        "/groups/{id}/members/{person}",
        GroupManager,
        Group,
        "Remove a direct member (every term)",
        "",
    ),
    r(
        "post",
        "/groups/{id}/subgroups",
        GroupManager,
        Group,
        "Add a subgroup (one you manage too), as members or as managers; a cycle is 409",
        "SubgroupInput",
    ),
    r(
        "delete",
        "/groups/{id}/subgroups/{child}",
        GroupManager,
        Group,
        "Remove a subgroup",
        "",
    ),
    r(
        "put",
        "/groups/{id}/rule",
        GroupManager,
        GroupOrgWide,
        "Set the group's rule; answers how many people match",
        "RuleInput",
    ),
    r(
        "delete",
        "/groups/{id}/rule",
        GroupManager,
        GroupOrgWide,
        "Remove the group's rule",
        "",
    ),
    r(
        "post",
        "/groups/{id}/rule/dry-run",
        GroupManager,
        GroupOrgWide,
        "How many people a rule would match, without saving it",
        "RuleInput",
    ),
    r(
        "put",
        "/groups/{id}/retention",
        Administrator,
        GroupOrgWide,
        "Set (years) or clear (null) the group's retention rule: membership protects its facts for N years after it ends",
        "RetentionInput",
    ),
    r(
        "get",
        "/groups/{id}/recipients",
        Auditor,
        Group,
        "Who receives the group's mail now; ?explain=true adds every path; ?person_id=N explains one person",
        "",
    ),
    r(
        "get",
        "/groups/{id}/opt-outs",
        Auditor,
        Group,
        "Opt-outs of the group's mail (person, time, channel), and per recent post the opt-outs that followed it",
        "",
    ),
    r(
        "get",
        "/groups/{id}/settings",
        Auditor,
        Group,
        "The list settings (posting policy, limits, display rules)",
        "",
    ),
    r(
        "put",
        "/groups/{id}/settings",
        GroupManager,
        Group,
        "Replace the list settings; fields left out take their defaults",
        "ListSettings",
    ),
    r(
        "get",
        "/groups/{id}/bounces",
        Auditor,
        Group,
        "Bounce scores of a group: who bounced, how often, the last report, who is disabled",
        "",
    ),
    r(
        "post",
        "/groups/{id}/bounces/{person}/enable",
        GroupManager,
        Group,
        "Re-enable delivery to a person disabled for bouncing (score back to zero); a no-op for someone not disabled",
        "",
    ),
    r(
        "get",
        "/queue",
        Administrator,
        Org,
        "Posts being delivered and deferred recipients with last error and next attempt; ?limit=",
        "",
    ),
    r(
        "post",
        "/queue/{queue_id}/{action}",
        Administrator,
        Org,
        "retry (due now) or cancel (marked failed) a post's waiting recipients, or one {\"recipient\"}",
        "",
    ),
    r(
        "get",
        "/moderation",
        Limited,
        Any,
        "Posts held for moderation in the groups you can see",
        "",
    ),
    r(
        "get",
        "/moderation/{id}",
        Auditor,
        Held,
        "A held post with a safe preview: its text as text, its HTML sanitised (no remote content), its attachments listed",
        "",
    ),
    r(
        "post",
        "/moderation/{id}/{action}",
        Moderator,
        Held,
        "Decide on a held post: action is approve, reject or discard; {reason} is mailed to the author on reject",
        "DecisionInput",
    ),
    r(
        "get",
        "/overview",
        Limited,
        Any,
        "Your lists with recipient counts, held posts, deferred and failed deliveries, people disabled for bouncing",
        "",
    ),
    r(
        "get",
        "/me",
        Limited,
        Any,
        "Your account and every permission you hold now, with where it comes from",
        "",
    ),
    r(
        "get",
        "/me/tokens",
        Limited,
        Any,
        "Your API tokens (never the secret)",
        "",
    ),
    r(
        "post",
        "/me/tokens",
        Limited,
        Any,
        "Create an API token; the answer is the only time it is shown",
        "TokenInput",
    ),
    r(
        "delete",
        "/me/tokens/{id}",
        Limited,
        Any,
        "Revoke one of your API tokens",
        "",
    ),
    r(
        "get",
        "/accounts",
        Auditor,
        Org,
        "Admin accounts with their grants",
        "",
    ),
    r(
        "post",
        "/accounts",
        Owner,
        Org,
        "Create an admin account for a person (by email; created if new)",
        "AccountInput",
    ),
    r(
        "get",
        "/accounts/{id}",
        Auditor,
        Org,
        "An admin account with its permissions now",
        "",
    ),
    r(
        "post",
        "/accounts/{id}/deactivate",
        Owner,
        Org,
        "Deactivate an account: its tokens stop working, its history stays; not the last owner",
        "",
    ),
    r(
        "post",
        "/accounts/{id}/reactivate",
        Owner,
        Org,
        "Reactivate an account",
        "",
    ),
    r(
        "get",
        "/grants",
        Auditor,
        Org,
        "Every grant of a role, to accounts and to groups",
        "",
    ),
    r(
        "post",
        "/grants",
        Owner,
        Org,
        "Grant a role to an account or to a group's members, for the organisation or a group subtree",
        "GrantInput",
    ),
    r(
        "delete",
        "/grants/{id}",
        Owner,
        Org,
        "Withdraw a grant; not the last owner's",
        "",
    ),
    r(
        "get",
        "/audit",
        Auditor,
        Org,
        "The audit log, newest first; ?person_id=N, ?actor=ADDRESS, ?from=DATE, ?to=DATE, ?before=ID, ?limit=N",
        "",
    ),
    r(
        "post",
        "/gdpr/cleanup",
        Administrator,
        Org,
        "Who would be (dry_run) or is anonymised by a rule: resigned more than N years ago; with the retention rules that block each",
        "CleanupInput",
    ),
    r(
        "get",
        "/import",
        Administrator,
        Org,
        "Recent CSV imports (checked, running, done) of this server, newest first",
        "",
    ),
    r(
        "post",
        "/import",
        Administrator,
        Org,
        "Check a CSV file of people (text/csv, or {\"csv\": TEXT}): every bad line and why; nothing is written. Answers the check with an id to run it by",
        "ImportInput",
    ),
    r(
        "get",
        "/import/{id}",
        Administrator,
        Org,
        "A checked import: the check, and once run its progress (bytes and rows) and summary",
        "",
    ),
    r(
        "post",
        "/import/{id}/run",
        Administrator,
        Org,
        "Import a checked file (in the background; ?wait=true answers when done, with the summary)",
        "",
    ),
    r(
        "get",
        "/groups/{id}/archive/imports",
        Auditor,
        Group,
        "The latest mbox imports into the list's archive, newest first: state (running, done, failed, interrupted), bytes read, added, already archived, unreadable (a count)",
        "",
    ),
    r(
        "post",
        "/groups/{id}/archive/imports",
        GroupManager,
        Group,
        "Import an mbox file (the body; plain or gzip, as Mailman 2's .txt.gz) into the list's archive, in the background: de-duplicated by Message-ID, under the list's archive setting; ?name= the file's name, ?wait=true answers when it is over",
        "application/mbox",
    ),
    r(
        "get",
        "/groups/{id}/archive/imports/{import}",
        Auditor,
        Group,
        "One mbox import: its progress (bytes of the file read) and what came of it, with every unreadable message by position and why",
        "",
    ),
];

/// The row for a route, if any.
pub fn spec(method: &str, path: &str) -> Option<&'static RouteSpec> {
    ROUTES
        .iter()
        .find(|s| s.method.eq_ignore_ascii_case(method) && s.path == path)
}
