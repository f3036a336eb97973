//! Human output of `tessera ctl`: aligned tables of rooms and members, and one line per event.

use serde_json::Value;

/// A cell's text: strings bare, `null` as `-`, booleans as `yes`/`-`.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".to_string(),
        Value::Bool(true) => "yes".to_string(),
        Value::Bool(false) => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Rows of `columns` (header, JSON field) from `items`, padded to align.
pub fn render(items: &[Value], columns: &[(&str, &str)]) -> String {
    let rows: Vec<Vec<String>> =
        std::iter::once(columns.iter().map(|(h, _)| h.to_string()).collect())
            .chain(
                items
                    .iter()
                    .map(|item| columns.iter().map(|(_, f)| cell(&item[*f])).collect()),
            )
            .collect();
    let widths: Vec<usize> = (0..columns.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(text, w)| format!("{text:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

pub const ROOM_COLUMNS: &[(&str, &str)] = &[
    ("ROOM", "room"),
    ("MEMBERS", "members"),
    ("TALKING", "talkers"),
    ("LOCKED", "locked"),
    ("PIN", "pin_required"),
    ("MAX", "max_members"),
    ("KEPT", "persistent"),
    ("CREATED", "created_at"),
];

pub const MEMBER_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("NAME", "name"),
    ("KIND", "kind"),
    ("CODEC", "audio_codec"),
    ("VIDEO", "video"),
    ("CANVAS", "canvas"),
    ("WATCHING", "watching_canvas"),
    ("MUTED", "muted"),
    ("DEAF", "deaf"),
    ("TALKING", "talking"),
    ("LEVEL", "level_dbov"),
    ("FROM", "source"),
];

/// One line for an event: sequence, time, type, room, and what it is about.
pub fn event_line(e: &Value) -> String {
    let about = match e["type"].as_str().unwrap_or_default() {
        "snapshot" => {
            let rooms = e["rooms"].as_array().map_or(0, Vec::len);
            format!("{rooms} room(s)")
        }
        "member-joined" => format!(
            "member {} {} from {}",
            cell(&e["member"]["id"]),
            cell(&e["member"]["name"]),
            cell(&e["member"]["source"])
        ),
        "member-left" => format!("member {} ({})", cell(&e["member"]), cell(&e["reason"])),
        "member-updated" => format!(
            "member {} {} by {}",
            cell(&e["member"]),
            e["changes"],
            cell(&e["by"])
        ),
        "talking-started" | "talking-stopped" => format!("member {}", cell(&e["member"])),
        "dial-progress" => format!(
            "{} {} {} {}",
            cell(&e["dial_id"]),
            cell(&e["uri"]),
            cell(&e["state"]),
            cell(&e["status"])
        ),
        _ => String::new(),
    };
    format!(
        "{} {} {} {} {}",
        cell(&e["seq"]),
        cell(&e["time"]),
        cell(&e["type"]),
        cell(&e["room"]),
        about
    )
    .trim_end()
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_align_and_values_read_plainly() {
        let rows = [
            json!({"room": "3000", "members": 12, "locked": true, "max_members": null}),
            json!({"room": "42", "members": 1, "locked": false, "max_members": 5}),
        ];
        let cols = [
            ("ROOM", "room"),
            ("MEMBERS", "members"),
            ("LOCKED", "locked"),
            ("MAX", "max_members"),
        ];
        assert_eq!(
            render(&rows, &cols),
            "ROOM  MEMBERS  LOCKED  MAX\n3000  12       yes     -\n42    1        -       5\n"
        );
    }

    #[test]
    fn an_event_is_one_line() {
        let e = json!({"seq": 7, "time": "2026-12-01T10:00:00.000Z", "type": "member-left",
                       "room": "3000", "member": 4, "reason": "kicked"});
        assert_eq!(
            event_line(&e),
            "7 2026-12-01T10:00:00.000Z member-left 3000 member 4 (kicked)"
        );
    }
}
