//! Import of FreeSWITCH `conference_layouts.conf.xml`: a small, tolerant,
//! hand-written reader of just the elements the layouts use
//! (`<layout name=…><image x= y= scale= [hscale=] [floor=] [floor-only=]
//! [zoom=] …/></layout>` on FreeSWITCH's 360 grid, and
//! `<group name=…><layout>name</layout>…</group>`). Other elements and
//! attributes (`reservation_id`, `overlap`, `audio-position`, …) are skipped.
//! When the document has a `<layout-settings>` element (a whole
//! `freeswitch.xml`), only its content is read.

use super::layout::{Layout, LayoutError, LayoutGroup, Slot};

/// FreeSWITCH positions are on a 360 x 360 grid.
pub const FREESWITCH_GRID: u32 = 360;

/// Origin name used in errors for imported layouts.
const ORIGIN: &str = "<freeswitch-xml>";

/// Layouts and groups read from a FreeSWITCH file, in document order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FreeswitchLayouts {
    /// Validated layouts.
    pub layouts: Vec<Layout>,
    /// Groups as written (their layout names are not checked here).
    pub groups: Vec<LayoutGroup>,
}

/// Reads the layouts of a FreeSWITCH `conference_layouts.conf.xml`.
pub fn import_freeswitch_xml(xml: &str) -> Result<Vec<Layout>, LayoutError> {
    parse_freeswitch_xml(xml).map(|parsed| parsed.layouts)
}

/// Reads layouts and groups of a FreeSWITCH `conference_layouts.conf.xml`.
pub fn parse_freeswitch_xml(xml: &str) -> Result<FreeswitchLayouts, LayoutError> {
    let tokens = tokenize(xml)?;
    let scoped = tokens
        .iter()
        .any(|t| matches!(t, Token::Open(tag) if tag.name == "layout-settings"));
    let mut out = FreeswitchLayouts::default();
    let mut settings_depth = 0usize;
    let mut layout: Option<Layout> = None;
    let mut group: Option<LayoutGroup> = None;
    let mut group_ref: Option<String> = None;
    for token in &tokens {
        match token {
            Token::Open(tag) if tag.name == "layout-settings" => {
                settings_depth += usize::from(!tag.self_closing);
            }
            Token::Close { name, .. } if name == "layout-settings" => {
                settings_depth = settings_depth.saturating_sub(1);
            }
            _ if scoped && settings_depth == 0 => {}
            Token::Open(tag) => match tag.name.as_str() {
                "group" => {
                    let name = tag.attr("name").unwrap_or_default().to_string();
                    group = (!tag.self_closing).then_some(LayoutGroup {
                        name,
                        layouts: Vec::new(),
                    });
                }
                "layout" if group.is_some() && tag.attr("name").is_none() && !tag.self_closing => {
                    group_ref = Some(String::new());
                }
                "layout" if group.is_some() && tag.attr("name").is_none() => {}
                "layout" => {
                    let name = tag.attr("name").unwrap_or_default().to_string();
                    let new = Layout {
                        name,
                        grid: FREESWITCH_GRID,
                        slots: Vec::new(),
                    };
                    if tag.self_closing {
                        new.validate(ORIGIN)?;
                    }
                    layout = Some(new);
                }
                "image" => {
                    if let Some(current) = layout.as_mut() {
                        current.slots.push(image_slot(tag, current)?);
                    }
                }
                _ => {}
            },
            Token::Text(text) => {
                if let Some(reference) = group_ref.as_mut() {
                    reference.push_str(text);
                }
            }
            Token::Close { name, line } => match name.as_str() {
                "layout" if group_ref.is_some() => {
                    if let (Some(reference), Some(g)) = (group_ref.take(), group.as_mut()) {
                        let reference = reference.trim();
                        if reference.is_empty() {
                            let message = format!("empty <layout> reference in group {:?}", g.name);
                            return Err(LayoutError::Xml {
                                line: *line,
                                message,
                            });
                        }
                        g.layouts.push(reference.to_string());
                    }
                }
                "layout" => {
                    if let Some(done) = layout.take() {
                        done.validate(ORIGIN)?;
                        out.layouts.push(done);
                    }
                }
                "group" => out.groups.extend(group.take()),
                _ => {}
            },
        }
    }
    Ok(out)
}

/// Converts one `<image>` to a slot.
fn image_slot(tag: &Tag, layout: &Layout) -> Result<Slot, LayoutError> {
    let number = |attr: &str| -> Result<Option<u32>, LayoutError> {
        let Some(raw) = tag.attr(attr) else {
            return Ok(None);
        };
        raw.trim()
            .parse::<u32>()
            .map(Some)
            .map_err(|_| LayoutError::Xml {
                line: tag.line,
                message: format!(
                    "layout {:?} image #{}: {attr}={raw:?} is not a non-negative integer",
                    layout.name,
                    layout.slots.len()
                ),
            })
    };
    let required = |attr: &str| -> Result<u32, LayoutError> {
        number(attr)?.ok_or_else(|| LayoutError::Xml {
            line: tag.line,
            message: format!(
                "layout {:?} image #{} has no {attr}",
                layout.name,
                layout.slots.len()
            ),
        })
    };
    let (x, y, w) = (required("x")?, required("y")?, required("scale")?);
    let h = number("hscale")?.unwrap_or(w);
    let flag = |attr: &str| tag.attr(attr).is_some_and(is_true);
    Ok(Slot {
        x,
        y,
        w,
        h,
        floor: flag("floor") || flag("floor-only"),
        crop: flag("zoom"),
    })
}

/// FreeSWITCH's `switch_true`.
fn is_true(value: &str) -> bool {
    let v = value.trim().to_ascii_lowercase();
    matches!(
        v.as_str(),
        "true" | "yes" | "on" | "1" | "enabled" | "active" | "allow"
    )
}

/// A start (or self-closing) tag.
#[derive(Debug)]
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
    self_closing: bool,
    line: usize,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
enum Token {
    Open(Tag),
    Close { name: String, line: usize },
    Text(String),
}

fn line_at(xml: &str, pos: usize) -> usize {
    xml.get(..pos)
        .map_or(1, |head| head.matches('\n').count() + 1)
}

/// Splits the document into tags and text; comments, processing
/// instructions, DOCTYPE and CDATA are skipped.
fn tokenize(xml: &str) -> Result<Vec<Token>, LayoutError> {
    let mut tokens = Vec::new();
    let mut pos = 0;
    while let Some(offset) = xml[pos..].find('<') {
        let start = pos + offset;
        if start > pos {
            tokens.push(Token::Text(decode_entities(&xml[pos..start])));
        }
        let rest = &xml[start..];
        let unterminated = |what: &str| LayoutError::Xml {
            line: line_at(xml, start),
            message: format!("unterminated {what}"),
        };
        let skip_to = |terminator: &str, what: &str| {
            rest.find(terminator)
                .map(|end| start + end + terminator.len())
                .ok_or_else(|| unterminated(what))
        };
        pos = if rest.starts_with("<!--") {
            skip_to("-->", "comment")?
        } else if rest.starts_with("<![CDATA[") {
            skip_to("]]>", "CDATA section")?
        } else if rest.starts_with("<?") {
            skip_to("?>", "processing instruction")?
        } else if rest.starts_with("<!") {
            skip_to(">", "declaration")?
        } else {
            let end = tag_end(rest).ok_or_else(|| unterminated("tag"))?;
            tokens.push(parse_tag(&rest[1..end], line_at(xml, start))?);
            start + end + 1
        };
    }
    if pos < xml.len() {
        tokens.push(Token::Text(decode_entities(&xml[pos..])));
    }
    Ok(tokens)
}

/// Index of the `>` closing the tag at the start of `rest`, skipping quotes.
fn tag_end(rest: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in rest.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// Parses the inside of `<…>`.
fn parse_tag(inner: &str, line: usize) -> Result<Token, LayoutError> {
    let bad = |message: String| LayoutError::Xml { line, message };
    if let Some(name) = inner.strip_prefix('/') {
        return Ok(Token::Close {
            name: name.trim().to_ascii_lowercase(),
            line,
        });
    }
    let trimmed = inner.trim_end();
    let self_closing = trimmed.ends_with('/');
    let body = trimmed.strip_suffix('/').unwrap_or(trimmed);
    let name_end = body.find(|c: char| c.is_whitespace()).unwrap_or(body.len());
    let name = body[..name_end].to_ascii_lowercase();
    if name.is_empty() {
        return Err(bad("tag without a name".into()));
    }
    let mut attrs = Vec::new();
    let mut rest = body[name_end..].trim_start();
    while !rest.is_empty() {
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = rest[..key_end].to_ascii_lowercase();
        rest = rest[key_end..].trim_start();
        let Some(after_eq) = rest.strip_prefix('=') else {
            attrs.push((key, String::new()));
            continue;
        };
        let after_eq = after_eq.trim_start();
        let (value, remaining) = match after_eq.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let close = after_eq[1..]
                    .find(q)
                    .ok_or_else(|| bad(format!("attribute {key} has an unterminated value")))?;
                (&after_eq[1..=close], &after_eq[close + 2..])
            }
            _ => {
                let end = after_eq.find(char::is_whitespace).unwrap_or(after_eq.len());
                (&after_eq[..end], &after_eq[end..])
            }
        };
        attrs.push((key, decode_entities(value)));
        rest = remaining.trim_start();
    }
    Ok(Token::Open(Tag {
        name,
        attrs,
        self_closing,
        line,
    }))
}

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}
