//! The OpenAPI 3.1 document of the admin API, served at `/api/v1/openapi.json`. Kept beside the
//! router by hand; `tests/it/api.rs` checks that every documented route exists and every
//! route is documented.

use axum::Json;
use serde_json::{Value, json};

/// (method, path, summary, request body schema name or "")
pub const OPERATIONS: &[(&str, &str, &str, &str)] = &[
    (
        "get",
        "/people",
        "Search people by text (address or name), status, membership_type, team; limit/offset",
        "",
    ),
    (
        "post",
        "/people",
        "Create a person with attributes",
        "PersonInput",
    ),
    (
        "get",
        "/people/{id}",
        "Read a person with every attribute and membership period",
        "",
    ),
    (
        "patch",
        "/people/{id}",
        "Update a person; absent fields are kept, null clears name/membership_type",
        "PersonInput",
    ),
    (
        "delete",
        "/people/{id}",
        "Delete a person with their memberships and opt-outs",
        "",
    ),
    ("get", "/people/{id}/opt-outs", "A person's opt-outs", ""),
    (
        "post",
        "/people/{id}/opt-outs",
        "Opt a person out of a group's mail (group_id) or of all list mail (no group_id)",
        "OptOutInput",
    ),
    (
        "delete",
        "/people/{id}/opt-outs/{group}",
        "Undo an opt-out; group is a group id or \"all\"",
        "",
    ),
    ("get", "/fields", "List custom fields", ""),
    (
        "post",
        "/fields",
        "Create a custom field (single, multiple or checkbox)",
        "FieldInput",
    ),
    (
        "get",
        "/groups",
        "List groups (standard groups included)",
        "",
    ),
    (
        "post",
        "/groups",
        "Create a group, optionally with a list address",
        "GroupInput",
    ),
    (
        "get",
        "/groups/standard",
        "List the standard groups kept by the system",
        "",
    ),
    (
        "get",
        "/groups/{id}",
        "Read a group with its rule and subgroups",
        "",
    ),
    (
        "patch",
        "/groups/{id}",
        "Rename a group or set/clear its address",
        "GroupInput",
    ),
    (
        "delete",
        "/groups/{id}",
        "Delete a group (standard groups: 409, deactivate instead)",
        "",
    ),
    ("post", "/groups/{id}/activate", "Activate a group", ""),
    (
        "post",
        "/groups/{id}/deactivate",
        "Deactivate a group: no members, its address takes no mail",
        "",
    ),
    (
        "get",
        "/groups/{id}/members",
        "Direct members with role and term",
        "",
    ),
    (
        "post",
        "/groups/{id}/members",
        "Add a direct member (person_id or email) with role and optional term",
        "MemberInput",
    ),
    (
        "post",
        "/groups/{id}/members/copy",
        "Copy the direct members of another group with a new term",
        "CopyInput",
    ),
    (
        "delete",
        "/groups/{id}/members/{person}",
        "Remove a direct member (every term)",
        "",
    ),
    (
        "post",
        "/groups/{id}/subgroups",
        "Add a subgroup, as members or as managers; a cycle is 409",
        "SubgroupInput",
    ),
    (
        "delete",
        "/groups/{id}/subgroups/{child}",
        "Remove a subgroup",
        "",
    ),
    (
        "put",
        "/groups/{id}/rule",
        "Set the group's rule; answers how many people match",
        "RuleInput",
    ),
    ("delete", "/groups/{id}/rule", "Remove the group's rule", ""),
    (
        "post",
        "/groups/{id}/rule/dry-run",
        "How many people a rule would match, without saving it",
        "RuleInput",
    ),
    (
        "get",
        "/groups/{id}/recipients",
        "Who receives the group's mail now; ?explain=true adds every path; ?person_id=N explains one person",
        "",
    ),
    (
        "get",
        "/groups/{id}/opt-outs",
        "Opt-outs of the group's mail",
        "",
    ),
    (
        "get",
        "/groups/{id}/settings",
        "The list settings (posting policy, limits, display rules)",
        "",
    ),
    (
        "put",
        "/groups/{id}/settings",
        "Replace the list settings; fields left out take their defaults",
        "ListSettings",
    ),
    (
        "get",
        "/groups/{id}/bounces",
        "Bounce scores of a group: who bounced, how often, the last report, who is disabled",
        "",
    ),
    (
        "post",
        "/groups/{id}/bounces/{person}/enable",
        "Re-enable delivery to a person disabled for bouncing (score back to zero)",
        "",
    ),
    (
        "get",
        "/people/{id}/bounces",
        "A person's bounce scores, per list",
        "",
    ),
    (
        "get",
        "/queue",
        "Posts being delivered and deferred recipients with last error and next attempt; ?limit=",
        "",
    ),
    (
        "post",
        "/queue/{queue_id}/{action}",
        "retry (due now) or cancel (marked failed) a post's waiting recipients, or one {recipient}",
        "QueueActionInput",
    ),
    ("get", "/moderation", "Posts held for moderation", ""),
    (
        "post",
        "/moderation/{id}/{action}",
        "Decide on a held post: action is approve, reject or discard; {reason} is mailed to the author on reject",
        "DecisionInput",
    ),
];

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
        "OptOutInput": {"type": "object", "properties": {"group_id": {"type": ["integer", "null"]}, "channel": {"enum": ["admin", "link", "mailto"]}}},
        "FieldInput": {"type": "object", "required": ["name", "kind"], "properties": {"name": {"type": "string"}, "kind": {"enum": ["single", "multiple", "checkbox"]}, "options": {"type": "array", "items": {"type": "string"}}}},
        "GroupInput": {"type": "object", "properties": {"name": {"type": "string"}, "address": {"type": ["string", "null"], "format": "email"}}},
        "MemberInput": {"type": "object", "properties": {"person_id": {"type": "integer"}, "email": {"type": "string"}, "name": {"type": "string"}, "role": {"enum": ["member", "manager"]}, "valid_from": date, "valid_until": date}},
        "CopyInput": {"type": "object", "required": ["from_group"], "properties": {"from_group": {"type": "integer"}, "valid_from": date, "valid_until": date}},
        "SubgroupInput": {"type": "object", "required": ["group_id"], "properties": {"group_id": {"type": "integer"}, "as_manager": {"type": "boolean"}}},
        "RuleInput": {"type": "object", "required": ["rule"], "properties": {"rule": {"$ref": "#/components/schemas/Rule"}}},
        "Rule": {"description": "A condition {field, op, value} or {\"all\": [rules]} / {\"any\": [rules]}. Fields: status, membership_type, team, service, profile_type, field:NAME (ops equals, not_equals, in, not_in); joined, left (ops within_last_months, more_than_months_ago).", "type": "object"},
        "ListSettings": {"type": "object", "description": "See docs/list-settings.md: who_may_post, post_groups, allowed_senders, member_action, nonmember_action, max_message_size, max_recipients, posts_per_hour, from_mode, reply_to, reply_to_address, to_mode, subject_prefix, header_text, footer_text, language, archive_url, help_url, skip_addressed_members, author_receives_own, hold_days"},
        "DecisionInput": {"type": "object", "properties": {"reason": {"type": "string"}}},
        "QueueActionInput": {"type": "object", "properties": {"recipient": {"type": "string", "format": "email"}}},
        "Error": {"type": "object", "required": ["error", "message"], "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}
    })
}

pub fn spec() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, summary, body) in OPERATIONS {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": if ["group", "action", "queue_id"].contains(&name) {"string"} else {"integer"}}}))
            .collect();
        let mut op = json!({
            "summary": summary,
            "parameters": params,
            "responses": {
                "200": {"description": "OK"},
                "default": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if !body.is_empty() {
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
