//! The OpenAPI 3.1 document of the admin API, served at `/api/v1/openapi.json`, built from
//! [`super::routes::ROUTES`] (the table the router is registered from), so every route is
//! documented with the role it needs.

use axum::Json;
use serde_json::{Value, json};

use super::routes::Target;

fn schemas() -> Value {
    let date = json!({"type": "string", "format": "date"});
    json!({
        "PersonInput": {"type": "object", "additionalProperties": false, "properties": {
            "email": {"type": "string", "format": "email"}, "name": {"type": ["string", "null"]},
            "status": {"enum": ["active", "resigned"]}, "membership_type": {"type": ["string", "null"]},
            "profile_type": {"enum": ["person", "organisation", "public_body"]},
            "teams": {"type": "array", "items": {"type": "string"}}, "services": {"type": "array", "items": {"type": "string"}},
            "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            "receive_duplicates": {"type": "boolean"}, "add_periods": {"type": "array", "items": {"type": "object", "properties": {"joined": date, "left": {"type": ["string", "null"], "format": "date"}}, "required": ["joined"]}}}},
        "DeliveryInput": {"type": "object", "properties": {"group_id": {"type": "integer"}, "mode": {"enum": ["every", "daily", "weekly", "none"]}, "pause_until": {"type": ["string", "null"], "format": "date"}}},
        "OptOutInput": {"type": "object", "properties": {"group_id": {"type": ["integer", "null"]}, "channel": {"enum": ["admin", "link", "mailto"]}}},
        "FieldInput": {"type": "object", "required": ["name", "kind"], "properties": {"name": {"type": "string"}, "kind": {"enum": ["single", "multiple", "checkbox"]}, "options": {"type": "array", "items": {"type": "string"}}}},
        "GroupInput": {"type": "object", "properties": {"name": {"type": "string"}, "address": {"type": ["string", "null"], "format": "email"}, "parent_id": {"type": "integer", "description": "create only: nest the new group in this one"}}},
        "MemberChange": {"type": "object", "properties": {"term_from": date, "role": {"enum": ["member", "manager"]}, "valid_from": date, "valid_until": date}},
        "MemberInput": {"type": "object", "properties": {"person_id": {"type": "integer"}, "email": {"type": "string"}, "name": {"type": "string"}, "role": {"enum": ["member", "manager"]}, "valid_from": date, "valid_until": date}},
        "CopyInput": {"type": "object", "required": ["from_group"], "properties": {"from_group": {"type": "integer"}, "valid_from": date, "valid_until": date}},
        "SubgroupInput": {"type": "object", "required": ["group_id"], "properties": {"group_id": {"type": "integer"}, "as_manager": {"type": "boolean"}}},
        "RuleInput": {"type": "object", "required": ["rule"], "properties": {"rule": {"$ref": "#/components/schemas/Rule"}}},
        "Rule": {"description": "A condition {field, op, value} or {\"all\": [rules]} / {\"any\": [rules]}. Fields: status, membership_type, team, service, profile_type, field:NAME (ops equals, not_equals, in, not_in); joined, left (ops within_last_months, more_than_months_ago).", "type": "object"},
        "ListSettings": {"type": "object", "description": "See docs/list-settings.md: who_may_post, post_groups, allowed_senders, member_action, nonmember_action, max_message_size, max_recipients, posts_per_hour, from_mode, reply_to, reply_to_address, to_mode, subject_prefix, header_text, footer_text, language, archive_url, help_url, skip_addressed_members, author_receives_own, hold_days, digest_hour, digest_weekday, digest_max_posts"},
        "TokenInput": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "description": "what the token is for"}}},
        "AccountInput": {"type": "object", "required": ["email"], "properties": {"email": {"type": "string", "format": "email"}, "name": {"type": "string"}}},
        "GrantInput": {"type": "object", "required": ["role"], "description": "exactly one of account_id and group_id", "properties": {"role": {"enum": ["owner", "administrator", "group_manager", "moderator", "auditor", "limited"]}, "account_id": {"type": "integer"}, "group_id": {"type": "integer", "description": "every transitive member of this group holds the role"}, "scope_group_id": {"type": ["integer", "null"], "description": "a subtree of groups; absent: the whole organisation"}}},
        "RetentionInput": {"type": "object", "required": ["years"], "properties": {"years": {"type": ["integer", "null"], "minimum": 1, "maximum": 100}}},
        "CleanupInput": {"type": "object", "required": ["resigned_years"], "properties": {"resigned_years": {"type": "integer", "minimum": 0}, "dry_run": {"type": "boolean", "default": true}}},
        "DecisionInput": {"type": "object", "properties": {"reason": {"type": "string"}}},
        "ImportInput": {"type": "object", "required": ["csv"], "description": "or the file itself as text/csv; columns: see docs/groups.md (email required; external_id the member number)", "properties": {"csv": {"type": "string"}}},
        "QueueActionInput": {"type": "object", "properties": {"recipient": {"type": "string", "format": "email"}}},
        "Error": {"type": "object", "required": ["error", "message"], "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}
    })
}

pub fn spec() -> Value {
    let mut paths = serde_json::Map::new();
    for route in super::routes::ROUTES {
        let (method, path, summary, body) = (&route.method, route.path, route.summary, route.body);
        let scope = match route.rule.target {
            Target::Any => "any account; answers only what is in your scopes",
            Target::Anywhere => "the role in at least one scope",
            Target::Org => "the role for the whole organisation (else 403)",
            Target::Group => "the role in a scope containing the group (out of scope: 404)",
            Target::GroupOrgWide => {
                "the role for the whole organisation (a group out of scope: 404)"
            }
            Target::Person => "the role in a scope the person is a member of (out of scope: 404)",
            Target::Held => "the role in a scope containing the post's group (out of scope: 404)",
            Target::ParentInBody => {
                "the role for the whole organisation, or in a scope containing parent_id (out of scope: 404)"
            }
        };
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": if ["group", "action", "queue_id"].contains(&name) {"string"} else {"integer"}}}))
            .collect();
        let mut op = json!({
            "summary": summary,
            "x-required-role": route.rule.role.as_str(),
            "x-scope": scope,
            "parameters": params,
            "responses": {
                "200": {"description": "OK"},
                "default": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if body.contains('/') {
            // A file as the body, of this media type.
            op["requestBody"] = json!({"required": true, "content": {*body: {"schema": {"type": "string", "format": "binary"}}}});
        } else if !body.is_empty() {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{body}")}}}});
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "circlemail admin API", "version": env!("CARGO_PKG_VERSION")},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"schemas": schemas(), "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}
    })
}

pub async fn document() -> Json<Value> {
    Json(spec())
}
