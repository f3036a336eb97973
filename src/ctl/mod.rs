//! `tessera ctl`: a command line over the control API, for operators at a terminal. Each
//! subcommand is one or two HTTP requests; the answer prints as a table (or as the API's
//! JSON with `--json`); failures print the API's message and exit non-zero.

mod client;
mod table;

pub use client::{Client, CtlError};

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::io::Write;

/// Options and subcommand of `tessera ctl`.
#[derive(Debug, Args)]
pub struct CtlArgs {
    /// Base URL of the server's API.
    #[arg(
        long,
        global = true,
        env = "TESSERA_API",
        default_value = "http://127.0.0.1:8080"
    )]
    pub api: String,
    /// Bearer token (needed when the API listens beyond loopback).
    #[arg(long, global = true, env = "TESSERA_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: CtlCommand,
}

#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// List rooms.
    Rooms,
    /// Show one room.
    Room { room: String },
    /// List a room's members.
    Members { room: String },
    /// Mute a member (or `all`: every participant).
    Mute { room: String, target: String },
    /// Unmute a member (or `all`).
    Unmute { room: String, target: String },
    /// Send a member silence.
    Deaf { room: String, id: u64 },
    /// Let a member hear the room again.
    Undeaf { room: String, id: u64 },
    /// End a member's call (BYE).
    Kick { room: String, id: u64 },
    /// Write TEXT on a member's tile (`none` removes it).
    Banner { room: String, id: u64, text: String },
    /// Set a member's volumes in dB (−12…+12): its voice in the mix, and what it hears.
    Volume {
        room: String,
        id: u64,
        #[arg(long = "in", allow_hyphen_values = true)]
        volume_in: Option<i32>,
        #[arg(long = "out", allow_hyphen_values = true)]
        volume_out: Option<i32>,
    },
    /// Make a member a moderator (spared by mute-all) or a participant.
    Role { room: String, id: u64, role: String },
    /// Reserve a layout slot (1-based) for a member, or `none`.
    Slot { room: String, id: u64, slot: String },
    /// Move a member between canvases (1-based; --canvas 0: on no canvas).
    Canvas {
        room: String,
        id: u64,
        /// The canvas showing the member.
        #[arg(long)]
        canvas: Option<usize>,
        /// The canvas the member watches.
        #[arg(long)]
        watching: Option<usize>,
    },
    /// Refuse new callers (403).
    Lock { room: String },
    /// Admit new callers again.
    Unlock { room: String },
    /// Set a room's PIN (callers dial ROOM*PIN), or `none` to clear it.
    Pin { room: String, pin: String },
    /// Create a room ahead of the first dial (it stays until `delete`).
    Create {
        room: String,
        #[arg(long)]
        pin: Option<String>,
        #[arg(long)]
        max_members: Option<usize>,
    },
    /// End every call of a room and remove it.
    Delete { room: String },
    /// Set a canvas's layout (a name or group:NAME; see `GET /v1/layouts`).
    Layout {
        room: String,
        canvas: usize,
        layout: String,
    },
    /// Hold a member in a canvas's floor slot, or `auto` for the loudest talker.
    Floor {
        room: String,
        canvas: usize,
        target: String,
    },
    /// Save a canvas as composed now, as PNG.
    Snapshot {
        room: String,
        canvas: usize,
        file: std::path::PathBuf,
    },
    /// Call a SIP URI into a room (progress: `events`).
    Dial {
        room: String,
        uri: String,
        /// Name shown for the member.
        #[arg(long)]
        name: Option<String>,
        /// Seconds to ring before giving up.
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// Cancel a dial that is not answered yet.
    Undial { dial_id: String },
    /// Join ROOM with the same room on another server (a cascade leg to URI).
    Cascade { room: String, uri: String },
    /// List ROOM's cascade legs.
    Cascades { room: String },
    /// End one of ROOM's cascade legs.
    Uncascade { room: String, id: String },
    /// Follow the event stream (one line per event) until the server stops.
    Events { room: Option<String> },
}

/// What a command printed, in the form asked for.
struct Output {
    json: bool,
}

impl Output {
    fn print(&self, value: &Value, human: impl FnOnce(&Value) -> String) {
        let text = if self.json {
            format!(
                "{}\n",
                serde_json::to_string_pretty(value).unwrap_or_default()
            )
        } else {
            human(value)
        };
        print!("{text}");
        let _ = std::io::stdout().flush();
    }
}

fn table_cell(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_string)
}

fn list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        one => vec![one.clone()],
    }
}

/// Runs one `tessera ctl` command.
pub fn run(args: CtlArgs) -> Result<(), CtlError> {
    let client = Client::new(&args.api, args.token.clone());
    let out = Output { json: args.json };
    let rooms = |v: &Value| table::render(&list(v), table::ROOM_COLUMNS);
    let members = |v: &Value| table::render(&list(v), table::MEMBER_COLUMNS);
    let member_path = |room: &str, id: u64| format!("/v1/rooms/{room}/members/{id}");
    let patch_member = |room: &str, id: u64, body: Value| -> Result<(), CtlError> {
        let answer = client.call("PATCH", &member_path(room, id), Some(body))?;
        out.print(&answer, members);
        Ok(())
    };
    let patch_room = |room: &str, body: Value| -> Result<(), CtlError> {
        let answer = client.call("PATCH", &format!("/v1/rooms/{room}"), Some(body))?;
        out.print(&answer, rooms);
        Ok(())
    };
    let mute = |room: &str, target: &str, muted: bool| -> Result<(), CtlError> {
        if target == "all" {
            let answer = client.call(
                "POST",
                &format!("/v1/rooms/{room}/mute-all"),
                Some(json!({ "muted": muted })),
            )?;
            out.print(&answer, |v| {
                format!(
                    "{} member(s) {}\n",
                    list(&v["changed"]).len(),
                    if muted { "muted" } else { "unmuted" }
                )
            });
            return Ok(());
        }
        let id: u64 = target
            .parse()
            .map_err(|_| CtlError::Usage(format!("{target:?} is neither a member id nor `all`")))?;
        patch_member(room, id, json!({ "muted": muted }))
    };
    match &args.command {
        CtlCommand::Rooms => out.print(&client.call("GET", "/v1/rooms", None)?, rooms),
        CtlCommand::Room { room } => out.print(
            &client.call("GET", &format!("/v1/rooms/{room}"), None)?,
            rooms,
        ),
        CtlCommand::Members { room } => out.print(
            &client.call("GET", &format!("/v1/rooms/{room}/members"), None)?,
            members,
        ),
        CtlCommand::Mute { room, target } => mute(room, target, true)?,
        CtlCommand::Unmute { room, target } => mute(room, target, false)?,
        CtlCommand::Deaf { room, id } => patch_member(room, *id, json!({"deaf": true}))?,
        CtlCommand::Undeaf { room, id } => patch_member(room, *id, json!({"deaf": false}))?,
        CtlCommand::Kick { room, id } => {
            client.call("DELETE", &member_path(room, *id), None)?;
            out.print(&json!({"kicked": id}), |_| format!("member {id} kicked\n"));
        }
        CtlCommand::Canvas {
            room,
            id,
            canvas,
            watching,
        } => {
            let mut body = serde_json::Map::new();
            if let Some(c) = canvas {
                body.insert(
                    "canvas".into(),
                    if *c == 0 { Value::Null } else { json!(c) },
                );
            }
            if let Some(w) = watching {
                body.insert("watching_canvas".into(), json!(w));
            }
            if body.is_empty() {
                return Err(CtlError::Usage(
                    "give --canvas N and/or --watching M".to_string(),
                ));
            }
            patch_member(room, *id, Value::Object(body))?
        }
        CtlCommand::Banner { room, id, text } => {
            let text = if text == "none" {
                Value::Null
            } else {
                json!(text)
            };
            patch_member(room, *id, json!({ "banner": text }))?
        }
        CtlCommand::Volume {
            room,
            id,
            volume_in,
            volume_out,
        } => {
            let mut body = serde_json::Map::new();
            if let Some(db) = volume_in {
                body.insert("volume_in".into(), json!(db));
            }
            if let Some(db) = volume_out {
                body.insert("volume_out".into(), json!(db));
            }
            if body.is_empty() {
                return Err(CtlError::Usage("give --in DB and/or --out DB".to_string()));
            }
            patch_member(room, *id, Value::Object(body))?
        }
        CtlCommand::Role { room, id, role } => patch_member(room, *id, json!({ "role": role }))?,
        CtlCommand::Slot { room, id, slot } => {
            let slot = match slot.as_str() {
                "none" => Value::Null,
                n => json!(n
                    .parse::<usize>()
                    .map_err(|_| CtlError::Usage("slot: a number from 1, or none".to_string()))?),
            };
            patch_member(room, *id, json!({ "slot": slot }))?
        }
        CtlCommand::Lock { room } => patch_room(room, json!({"locked": true}))?,
        CtlCommand::Unlock { room } => patch_room(room, json!({"locked": false}))?,
        CtlCommand::Pin { room, pin } => {
            let pin = if pin == "none" {
                Value::Null
            } else {
                json!(pin)
            };
            patch_room(room, json!({ "pin": pin }))?
        }
        CtlCommand::Create {
            room,
            pin,
            max_members,
        } => {
            // Only what was given: PUT on an existing room keeps the rest.
            let mut body = serde_json::Map::new();
            if let Some(pin) = pin {
                body.insert("pin".into(), json!(pin));
            }
            if let Some(max) = max_members {
                body.insert("max_members".into(), json!(max));
            }
            let answer = client.call(
                "PUT",
                &format!("/v1/rooms/{room}"),
                Some(Value::Object(body)),
            )?;
            out.print(&answer, rooms);
        }
        CtlCommand::Delete { room } => {
            client.call("DELETE", &format!("/v1/rooms/{room}"), None)?;
            out.print(&json!({"deleted": room}), |_| {
                format!("room {room} deleted\n")
            });
        }
        CtlCommand::Layout {
            room,
            canvas,
            layout,
        } => {
            let path = format!("/v1/rooms/{room}/canvases/{canvas}");
            let answer = client.call("PATCH", &path, Some(json!({ "layout": layout })))?;
            out.print(&answer, |v| {
                format!("canvas {canvas}: layout {}\n", table_cell(&v["layout"]))
            });
        }
        CtlCommand::Floor {
            room,
            canvas,
            target,
        } => {
            let path = format!("/v1/rooms/{room}/canvases/{canvas}/floor");
            let answer = if target == "auto" {
                client.call("DELETE", &path, None)?
            } else {
                let member: u64 = target.parse().map_err(|_| {
                    CtlError::Usage(format!("{target:?} is neither a member id nor `auto`"))
                })?;
                client.call("PUT", &path, Some(json!({ "member": member })))?
            };
            out.print(&answer, |v| {
                format!(
                    "canvas {canvas}: floor {}{}\n",
                    table_cell(&v["floor"]),
                    if v["floor_forced"] == true {
                        " (held)"
                    } else {
                        ""
                    }
                )
            });
        }
        CtlCommand::Snapshot { room, canvas, file } => {
            let path = format!("/v1/rooms/{room}/canvases/{canvas}/snapshot.png");
            let png = client.bytes(&path)?;
            std::fs::write(file, &png)
                .map_err(|e| CtlError::Usage(format!("cannot write {}: {e}", file.display())))?;
            out.print(&json!({"file": file, "bytes": png.len()}), |_| {
                format!("saved {} ({} bytes)\n", file.display(), png.len())
            });
        }
        CtlCommand::Dial {
            room,
            uri,
            name,
            timeout,
        } => {
            let answer = client.call(
                "POST",
                &format!("/v1/rooms/{room}/dial"),
                Some(json!({"uri": uri, "name": name, "timeout_s": timeout})),
            )?;
            out.print(&answer, |v| {
                format!("dialling: {}\n", table_cell(&v["dial_id"]))
            });
        }
        CtlCommand::Undial { dial_id } => {
            client.call("DELETE", &format!("/v1/dials/{dial_id}"), None)?;
            out.print(&json!({"cancelled": dial_id}), |_| {
                format!("dial {dial_id} cancelled\n")
            });
        }
        CtlCommand::Cascade { room, uri } => {
            let path = format!("/v1/rooms/{room}/cascades");
            let answer = client.call("POST", &path, Some(json!({ "uri": uri })))?;
            out.print(&answer, |v| {
                format!("{}: {}\n", table_cell(&v["id"]), table_cell(&v["state"]))
            });
        }
        CtlCommand::Cascades { room } => {
            let answer = client.call("GET", &format!("/v1/rooms/{room}/cascades"), None)?;
            out.print(&answer, |v| {
                let legs = v.as_array().map(Vec::as_slice).unwrap_or_default();
                let mut text = String::from("ID  PEER  DIRECTION  STATE  REMOTE  STATUS\n");
                for leg in legs {
                    let cells: Vec<String> =
                        ["id", "peer", "direction", "state", "remote_node", "status"]
                            .iter()
                            .map(|k| table_cell(&leg[*k]))
                            .collect();
                    text.push_str(&cells.join("  "));
                    text.push('\n');
                }
                text
            });
        }
        CtlCommand::Uncascade { room, id } => {
            client.call("DELETE", &format!("/v1/rooms/{room}/cascades/{id}"), None)?;
            out.print(&json!({ "ended": id }), |_| format!("cascade {id} ended\n"));
        }
        CtlCommand::Events { room } => client.follow(room.as_deref(), |event| {
            out.print(event, |e| format!("{}\n", table::event_line(e)));
        })?,
    }
    Ok(())
}
