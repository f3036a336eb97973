//! [`LayoutLibrary`]: the set of known layouts and groups, loaded from a
//! directory of TOML layout files (format in `layouts/README.md`), from the
//! shipped files embedded at build time, or from FreeSWITCH XML; and auto
//! layout by member count ([`LayoutLibrary::pick`]).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::layout::{parse_freeswitch_xml, Layout, LayoutError, LayoutGroup, Slot};

/// Origin name used in errors for layouts built into the binary.
pub const BUILTIN_ORIGIN: &str = "<builtin>";

/// The shipped layout files, embedded so the server runs without any file.
const BUILTIN_FILES: [(&str, &str); 11] = [
    ("1x1.toml", include_str!("../../../layouts/1x1.toml")),
    ("1x2.toml", include_str!("../../../layouts/1x2.toml")),
    ("2x2.toml", include_str!("../../../layouts/2x2.toml")),
    ("3x3.toml", include_str!("../../../layouts/3x3.toml")),
    ("4x4.toml", include_str!("../../../layouts/4x4.toml")),
    ("5x5.toml", include_str!("../../../layouts/5x5.toml")),
    (
        "1up_top_left+5.toml",
        include_str!("../../../layouts/1up_top_left+5.toml"),
    ),
    (
        "1up_top_left+7.toml",
        include_str!("../../../layouts/1up_top_left+7.toml"),
    ),
    (
        "2up_top+8.toml",
        include_str!("../../../layouts/2up_top+8.toml"),
    ),
    (
        "presenter.toml",
        include_str!("../../../layouts/presenter.toml"),
    ),
    ("groups.toml", include_str!("../../../layouts/groups.toml")),
];

/// On-disk shape of one layout file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LayoutFile {
    #[serde(default, rename = "layout")]
    layouts: Vec<Layout>,
    #[serde(default, rename = "group")]
    groups: Vec<LayoutGroup>,
}

/// All known layouts and groups, with where each came from.
#[derive(Debug, Clone, Default)]
pub struct LayoutLibrary {
    layouts: BTreeMap<String, (Layout, String)>,
    groups: BTreeMap<String, (LayoutGroup, String)>,
}

impl LayoutLibrary {
    /// The layouts shipped in `layouts/`, embedded at build time. If they
    /// were ever broken (tests guard against it) a lone `1x1` is returned.
    pub fn builtin() -> Self {
        Self::from_sources(&BUILTIN_FILES).unwrap_or_else(|_| {
            let mut lib = Self::default();
            let full = Slot {
                x: 0,
                y: 0,
                w: 1,
                h: 1,
                floor: true,
                crop: false,
            };
            let one = Layout {
                name: "1x1".into(),
                grid: 1,
                slots: vec![full],
            };
            lib.layouts
                .insert(one.name.clone(), (one, BUILTIN_ORIGIN.into()));
            lib
        })
    }

    /// The embedded sources as `(file name, TOML text)`.
    pub fn builtin_sources() -> &'static [(&'static str, &'static str)] {
        &BUILTIN_FILES
    }

    /// Loads every `*.toml` file of a directory (not recursive, sorted by
    /// name). Groups may name layouts from any file of the directory.
    pub fn load_dir(path: impl AsRef<Path>) -> Result<Self, LayoutError> {
        let dir = path.as_ref();
        let io_err = |source| LayoutError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_err)? {
            let file = entry.map_err(io_err)?.path();
            if file.is_file() && file.extension().is_some_and(|e| e == "toml") {
                files.push(file);
            }
        }
        files.sort();
        let mut sources = Vec::with_capacity(files.len());
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|source| LayoutError::Io {
                path: file.clone(),
                source,
            })?;
            sources.push((file.display().to_string(), text));
        }
        Self::from_sources(&sources)
    }

    /// Builds a library from `(origin, TOML text)` pairs: all layouts first,
    /// then the groups, so a group may name a layout of a later file.
    pub fn from_sources<O: AsRef<str>, T: AsRef<str>>(
        sources: &[(O, T)],
    ) -> Result<Self, LayoutError> {
        let mut lib = Self::default();
        let mut groups = Vec::new();
        for (origin, text) in sources {
            let origin = origin.as_ref();
            let file: LayoutFile =
                toml::from_str(text.as_ref()).map_err(|source| LayoutError::Parse {
                    file: origin.into(),
                    source,
                })?;
            for layout in file.layouts {
                lib.add_layout(layout, origin)?;
            }
            groups.extend(file.groups.into_iter().map(|g| (g, origin)));
        }
        for (group, origin) in groups {
            lib.add_group(group, origin)?;
        }
        Ok(lib)
    }

    /// Adds FreeSWITCH `conference_layouts.conf.xml` layouts and groups.
    pub fn add_freeswitch_xml(&mut self, xml: &str) -> Result<(), LayoutError> {
        let parsed = parse_freeswitch_xml(xml)?;
        for layout in parsed.layouts {
            self.add_layout(layout, "<freeswitch-xml>")?;
        }
        for group in parsed.groups {
            self.add_group(group, "<freeswitch-xml>")?;
        }
        Ok(())
    }

    /// Validates and adds one layout.
    pub fn add_layout(&mut self, layout: Layout, origin: &str) -> Result<(), LayoutError> {
        layout.validate(origin)?;
        if let Some((_, first)) = self.layouts.get(&layout.name) {
            let (file, name, first) = (origin.into(), layout.name, first.clone());
            return Err(LayoutError::DuplicateLayout { file, name, first });
        }
        self.layouts
            .insert(layout.name.clone(), (layout, origin.into()));
        Ok(())
    }

    /// Validates and adds one group; its layouts must already be known.
    pub fn add_group(&mut self, group: LayoutGroup, origin: &str) -> Result<(), LayoutError> {
        let file = || origin.to_string();
        if group.name.trim().is_empty() {
            return Err(LayoutError::EmptyName { file: file() });
        }
        if group.layouts.is_empty() {
            return Err(LayoutError::EmptyGroup {
                file: file(),
                group: group.name,
            });
        }
        if let Some(unknown) = group
            .layouts
            .iter()
            .find(|l| !self.layouts.contains_key(*l))
        {
            let (group, layout) = (group.name.clone(), unknown.clone());
            return Err(LayoutError::UnknownLayoutInGroup {
                file: file(),
                group,
                layout,
            });
        }
        if let Some((_, first)) = self.groups.get(&group.name) {
            let (name, first) = (group.name, first.clone());
            return Err(LayoutError::DuplicateGroup {
                file: file(),
                name,
                first,
            });
        }
        self.groups
            .insert(group.name.clone(), (group, origin.into()));
        Ok(())
    }

    /// A layout by name.
    pub fn get(&self, name: &str) -> Option<&Layout> {
        self.layouts.get(name).map(|(l, _)| l)
    }

    /// A group by name.
    pub fn group(&self, name: &str) -> Option<&LayoutGroup> {
        self.groups.get(name).map(|(g, _)| g)
    }

    /// Layout names, sorted.
    pub fn layout_names(&self) -> impl Iterator<Item = &str> {
        self.layouts.keys().map(String::as_str)
    }

    /// Group names, sorted.
    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str)
    }

    /// Auto layout: the layout of `group` with the fewest slots that still
    /// holds `members` (first listed wins a tie); when none is big enough,
    /// the largest one (extra members are then not shown). `None` only for
    /// an unknown group.
    pub fn pick(&self, group: &str, members: usize) -> Option<&Layout> {
        let candidates = || {
            self.group(group)
                .into_iter()
                .flat_map(|g| &g.layouts)
                .filter_map(|n| self.get(n))
        };
        candidates()
            .filter(|l| l.capacity() >= members)
            .min_by_key(|l| l.capacity())
            .or_else(|| candidates().max_by_key(|l| l.capacity()))
    }
}
