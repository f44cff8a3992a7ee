//! Tags: namespaced names (`artist:name`), their sources, siblings (alias → canonical) and parents
//! (a tag that implies another).

use std::collections::HashMap;
use std::fmt;

use crate::changes::{ChangeKind, TAG_RULES_GALLERY, record_change};
use crate::error::{Error, Result};
use crate::sql::{Param, Row, Sql, insert_each, placeholders, value_rows};
use crate::{Db, galleries};

/// The namespaces of E-Hentai-style tags; others are accepted too.
pub const NAMESPACES: &[&str] = &[
    "artist",
    "group",
    "parody",
    "character",
    "female",
    "male",
    "language",
    "misc",
    "other",
    "reclass",
    "cosplayer",
    "mixed",
];

/// A tag: a namespace (possibly empty) and a name, both normalised (trimmed, inner white space
/// collapsed, lower case) so that tags compare and are unique case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TagName {
    pub namespace: String,
    pub name: String,
}

fn normalise(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl TagName {
    /// A tag from its parts, normalised and checked.
    pub fn new(namespace: &str, name: &str) -> Result<Self> {
        let namespace = normalise(namespace);
        let name = normalise(name);
        if name.is_empty() {
            return Err(Error::invalid("tag", "a tag needs a name"));
        }
        if name.chars().count() > 255 {
            return Err(Error::invalid(
                "tag",
                "a tag name has at most 255 characters",
            ));
        }
        if name.contains('\0') || namespace.contains('\0') {
            return Err(Error::invalid(
                "tag",
                "a tag may not contain NUL characters",
            ));
        }
        if namespace.len() > 64
            || !namespace
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        {
            return Err(Error::invalid(
                "tag",
                format!("{namespace:?} is not a namespace (letters, digits, _ and -)"),
            ));
        }
        Ok(Self { namespace, name })
    }

    /// Parses `namespace:name` or a bare `name`.
    pub fn parse(text: &str) -> Result<Self> {
        match text.split_once(':') {
            Some((ns, name)) if !ns.trim().is_empty() && !ns.trim().contains(' ') => {
                Self::new(ns, name)
            }
            _ => Self::new("", text),
        }
    }

    /// Parses a comma-separated list such as `artist:x, language:japanese`.
    pub fn parse_list(text: &str) -> Result<Vec<Self>> {
        text.split(',')
            .filter(|t| !t.trim().is_empty())
            .map(Self::parse)
            .collect()
    }
}

impl fmt::Display for TagName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}:{}", self.namespace, self.name)
        }
    }
}

/// Where a gallery's tag came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TagSource {
    User,
    FileName,
    Sidecar,
    Online,
}

impl TagSource {
    pub(crate) fn code(self) -> i64 {
        match self {
            Self::User => 0,
            Self::FileName => 1,
            Self::Sidecar => 2,
            Self::Online => 3,
        }
    }

    pub(crate) fn from_code(c: i64) -> Self {
        match c {
            1 => Self::FileName,
            2 => Self::Sidecar,
            3 => Self::Online,
            _ => Self::User,
        }
    }
}

/// A tag on a gallery, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GalleryTag {
    pub tag: TagName,
    pub source: TagSource,
}

/// The tag whose namespace and name are columns `i` and `i + 1` of `row`.
pub(crate) fn tag_at(row: &Row, i: usize) -> Result<TagName> {
    Ok(TagName {
        namespace: row.text(i)?,
        name: row.text(i + 1)?,
    })
}

/// Ids of `tags`, creating the missing ones. Safe against concurrent creators: the unique key
/// decides, and the ids are read back.
pub(crate) fn ensure_ids(c: &mut dyn Sql, tags: &[TagName]) -> Result<HashMap<TagName, i64>> {
    let mut ids = HashMap::with_capacity(tags.len());
    let mut unique: Vec<&TagName> = tags.iter().collect();
    unique.sort();
    unique.dedup();
    for chunk in unique.chunks(c.dialect().max_params() / 2) {
        let sql = format!(
            "{} INTO tags (namespace, name) VALUES {}",
            c.dialect().insert_ignore(),
            value_rows(chunk.len(), 2)
        );
        let params: Vec<Param<'_>> = chunk
            .iter()
            .flat_map(|t| [Param::Text(&t.namespace), Param::Text(&t.name)])
            .collect();
        c.exec(&sql, &params)?;
        let sql = format!(
            "SELECT id, namespace, name FROM tags WHERE (namespace, name) IN ({})",
            value_rows(chunk.len(), 2)
        );
        for row in c.query(&sql, &params)? {
            ids.insert(tag_at(&row, 1)?, row.int(0)?);
        }
    }
    Ok(ids)
}

fn id_of(c: &mut dyn Sql, tag: &TagName) -> Result<Option<i64>> {
    c.query_opt(
        "SELECT id FROM tags WHERE namespace = ? AND name = ?",
        &[Param::Text(&tag.namespace), Param::Text(&tag.name)],
    )?
    .map(|r| r.int(0))
    .transpose()
}

fn name_of(c: &mut dyn Sql, id: i64) -> Result<TagName> {
    let row = c
        .query_opt(
            "SELECT namespace, name FROM tags WHERE id = ?",
            &[Param::Int(id)],
        )?
        .ok_or_else(|| Error::Decode(format!("no tag {id}")))?;
    tag_at(&row, 0)
}

/// Tags known to exist, both ways. Tag rows are never deleted or renamed, so what is learned from
/// committed rows stays right; whatever comes to delete or rename tags must clear this (and tell
/// other servers sharing the database through the change feed).
#[derive(Debug, Default)]
pub(crate) struct TagCache {
    pub by_name: HashMap<TagName, i64, foldhash::fast::RandomState>,
    pub by_id: HashMap<i64, TagName, foldhash::fast::RandomState>,
}

impl TagCache {
    pub fn learn(&mut self, tags: impl IntoIterator<Item = (TagName, i64)>) {
        for (t, id) in tags {
            self.by_id.insert(id, t.clone());
            self.by_name.insert(t, id);
        }
    }
}

/// A gallery's tags packed into one value, kept in its row beside the `gallery_tags` rows so that
/// a page of galleries is read without a join: version byte 1, the count, then per tag
/// `id << 2 | source`, ascending, as unsigned LEB128.
pub(crate) fn pack_tag_ids(links: &[(i64, i64)]) -> Vec<u8> {
    let mut sorted = links.to_vec();
    sorted.sort_unstable();
    sorted.dedup_by_key(|l| l.0);
    let mut out = vec![1u8];
    crate::pages::put_varint(&mut out, sorted.len() as u64);
    for (tag, source) in sorted {
        crate::pages::put_varint(&mut out, ((tag as u64) << 2) | (source as u64 & 3));
    }
    out
}

/// The tag ids of a packed tag list, into `out` (cleared first).
pub(crate) fn unpack_tag_ids_into(bytes: &[u8], out: &mut Vec<i64>) -> Result<()> {
    let bad = || Error::Decode("damaged packed tag list".into());
    if bytes.first() != Some(&1) {
        return Err(bad());
    }
    out.clear();
    let mut at = 1;
    let n = crate::pages::get_varint(bytes, &mut at).map_err(|_| bad())? as usize;
    for _ in 0..n.min(100_000) {
        let v = crate::pages::get_varint(bytes, &mut at).map_err(|_| bad())?;
        out.push((v >> 2) as i64);
    }
    Ok(())
}

pub(crate) fn unpack_tag_ids(bytes: &[u8]) -> Result<Vec<(i64, TagSource)>> {
    let bad = || Error::Decode("damaged packed tag list".into());
    if bytes.first() != Some(&1) {
        return Err(bad());
    }
    let mut at = 1;
    let mut get = || crate::pages::get_varint(bytes, &mut at).map_err(|_| bad());
    let n = get()? as usize;
    (0..n.min(100_000))
        .map(|_| get().map(|v| ((v >> 2) as i64, TagSource::from_code((v & 3) as i64))))
        .collect()
}

/// A gallery's tag links `(tag id, source code)` from its packed list, read to be rewritten inside
/// the caller's transaction.
fn links_for_update(c: &mut dyn Sql, gallery_id: i64) -> Result<Vec<(i64, i64)>> {
    let sql = format!(
        "SELECT tag_ids FROM galleries WHERE id = ?{}",
        c.dialect().for_update()
    );
    let row = c
        .query_opt(&sql, &[Param::Int(gallery_id)])?
        .ok_or_else(|| Error::Decode(format!("gallery {gallery_id} vanished")))?;
    Ok(unpack_tag_ids(&row.blob(0)?)?
        .into_iter()
        .map(|(tag, source)| (tag, source.code()))
        .collect())
}

fn write_links(c: &mut dyn Sql, gallery_id: i64, links: &[(i64, i64)]) -> Result<()> {
    c.exec(
        "UPDATE galleries SET tag_ids = ? WHERE id = ?",
        &[Param::Blob(&pack_tag_ids(links)), Param::Int(gallery_id)],
    )?;
    Ok(())
}

/// Removes all of a gallery's `gallery_tags` rows (it is being purged), given its packed list.
pub(crate) fn detach_all(c: &mut dyn Sql, gallery_id: i64, packed: &[u8]) -> Result<()> {
    for (tag, _) in unpack_tag_ids(packed)? {
        c.exec(
            "DELETE FROM gallery_tags WHERE tag_id = ? AND gallery_id = ?",
            &[Param::Int(tag), Param::Int(gallery_id)],
        )?;
    }
    Ok(())
}

/// The tags of galleries from their packed lists `(gallery id, packed)`, by gallery id, sorted by
/// namespace and name. Names come from `cache` where known; the rest are read and learned.
pub(crate) fn from_packed(
    c: &mut dyn Sql,
    cache: &std::sync::Mutex<TagCache>,
    packed: &[(i64, Vec<u8>)],
) -> Result<HashMap<i64, Vec<GalleryTag>>> {
    let mut links: Vec<(i64, i64, TagSource)> = Vec::new();
    for (gallery, bytes) in packed {
        links.extend(
            unpack_tag_ids(bytes)?
                .into_iter()
                .map(|(tag, source)| (*gallery, tag, source)),
        );
    }
    let mut names: HashMap<i64, TagName> = HashMap::with_capacity(links.len());
    let mut missing = Vec::new();
    {
        let known = cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for &(_, tag, _) in &links {
            match known.by_id.get(&tag) {
                Some(t) => {
                    names.insert(tag, t.clone());
                }
                None => missing.push(tag),
            }
        }
    }
    missing.sort_unstable();
    missing.dedup();
    let mut learned = Vec::new();
    for chunk in missing.chunks(1000) {
        let sql = format!(
            "SELECT id, namespace, name FROM tags WHERE id IN {}",
            placeholders(chunk.len())
        );
        let params: Vec<Param<'_>> = chunk.iter().map(|&i| Param::Int(i)).collect();
        for row in c.query(&sql, &params)? {
            let t = tag_at(&row, 1)?;
            names.insert(row.int(0)?, t.clone());
            learned.push((t, row.int(0)?));
        }
    }
    if !learned.is_empty() {
        cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .learn(learned);
    }
    let mut out: HashMap<i64, Vec<GalleryTag>> = HashMap::new();
    for (gallery, tag, source) in links {
        let name = names
            .get(&tag)
            .cloned()
            .ok_or_else(|| Error::Decode(format!("no tag {tag}")))?;
        out.entry(gallery)
            .or_default()
            .push(GalleryTag { tag: name, source });
    }
    for tags in out.values_mut() {
        tags.sort_unstable_by(|a, b| a.tag.cmp(&b.tag));
    }
    Ok(out)
}

/// Adds tags to a gallery inside a transaction; a tag it has already keeps its first source.
/// The packed list in the gallery row and the `gallery_tags` rows change together.
pub(crate) fn attach(
    c: &mut dyn Sql,
    gallery_id: i64,
    tags: &[(TagName, TagSource)],
) -> Result<()> {
    if tags.is_empty() {
        return Ok(());
    }
    let names: Vec<TagName> = tags.iter().map(|(t, _)| t.clone()).collect();
    let ids = ensure_ids(c, &names)?;
    let mut links = links_for_update(c, gallery_id)?;
    let mut added: Vec<(i64, i64)> = tags
        .iter()
        .filter_map(|(t, s)| ids.get(t).map(|&id| (id, s.code())))
        .filter(|&(id, _)| !links.iter().any(|l| l.0 == id))
        .collect();
    added.sort_unstable();
    added.dedup_by_key(|r| r.0);
    if added.is_empty() {
        return Ok(());
    }
    let head = format!(
        "{} INTO gallery_tags (tag_id, gallery_id, source)",
        c.dialect().insert_ignore()
    );
    insert_each(c, &head, &added, |&(tag, source)| {
        [Param::Int(tag), Param::Int(gallery_id), Param::Int(source)]
    })?;
    links.extend(added);
    write_links(c, gallery_id, &links)
}

/// Tags, siblings and parents.
#[derive(Debug, Clone, Copy)]
pub struct Tags<'a> {
    pub(crate) db: &'a Db,
}

impl Tags<'_> {
    /// Adds tags to a gallery.
    pub fn add(&self, public_id: &str, tags: &[TagName], source: TagSource) -> Result<()> {
        let with_source: Vec<(TagName, TagSource)> =
            tags.iter().map(|t| (t.clone(), source)).collect();
        self.db.write(|c| {
            let id = galleries::internal_id(c, public_id)?;
            attach(c, id, &with_source)?;
            c.exec(
                "UPDATE galleries SET updated_at = ? WHERE id = ?",
                &[Param::Int(crate::now_ms()), Param::Int(id)],
            )?;
            record_change(c, id, ChangeKind::Tags)
        })
    }

    /// Renames a tag, or merges it into another: every gallery tagged `from` is tagged `to`
    /// instead (keeping how the tag came to it), 500 galleries per transaction. An interrupted
    /// rename is finished by running it again. Answers how many galleries changed.
    pub fn rename(&self, from: &TagName, to: &TagName) -> Result<u64> {
        const BATCH: usize = 500;
        if from == to {
            return Ok(0);
        }
        let mut changed = 0u64;
        loop {
            let done = self.db.write(|c| {
                let Some(from_id) = id_of(c, from)? else {
                    return Ok(0);
                };
                let to_id = ensure_ids(c, std::slice::from_ref(to))?
                    .get(to)
                    .copied()
                    .ok_or_else(|| Error::Decode(format!("tag {to} has no id")))?;
                let rows = c.query(
                    &format!(
                        "SELECT gallery_id, source FROM gallery_tags WHERE tag_id = ? LIMIT {BATCH}"
                    ),
                    &[Param::Int(from_id)],
                )?;
                let now = crate::now_ms();
                for r in &rows {
                    let (gallery, source) = (r.int(0)?, r.int(1)?);
                    let mut links = links_for_update(c, gallery)?;
                    links.retain(|l| l.0 != from_id);
                    c.exec(
                        "DELETE FROM gallery_tags WHERE tag_id = ? AND gallery_id = ?",
                        &[Param::Int(from_id), Param::Int(gallery)],
                    )?;
                    if !links.iter().any(|l| l.0 == to_id) {
                        c.exec(
                            "INSERT INTO gallery_tags (tag_id, gallery_id, source) VALUES (?, ?, ?)",
                            &[Param::Int(to_id), Param::Int(gallery), Param::Int(source)],
                        )?;
                        links.push((to_id, source));
                    }
                    write_links(c, gallery, &links)?;
                    c.exec(
                        "UPDATE galleries SET updated_at = ? WHERE id = ?",
                        &[Param::Int(now), Param::Int(gallery)],
                    )?;
                    record_change(c, gallery, ChangeKind::Tags)?;
                }
                Ok(rows.len())
            })?;
            changed += done as u64;
            if done < BATCH {
                return Ok(changed);
            }
        }
    }

    /// Removes tags from a gallery; answers how many it had.
    pub fn remove(&self, public_id: &str, tags: &[TagName]) -> Result<u64> {
        self.db.write(|c| {
            let id = galleries::internal_id(c, public_id)?;
            let mut links = links_for_update(c, id)?;
            let mut removed = 0;
            for t in tags {
                if let Some(tag_id) = id_of(c, t)?
                    && let Some(at) = links.iter().position(|l| l.0 == tag_id)
                {
                    links.remove(at);
                    c.exec(
                        "DELETE FROM gallery_tags WHERE tag_id = ? AND gallery_id = ?",
                        &[Param::Int(tag_id), Param::Int(id)],
                    )?;
                    removed += 1;
                }
            }
            if removed > 0 {
                write_links(c, id, &links)?;
                c.exec(
                    "UPDATE galleries SET updated_at = ? WHERE id = ?",
                    &[Param::Int(crate::now_ms()), Param::Int(id)],
                )?;
                record_change(c, id, ChangeKind::Tags)?;
            }
            Ok(removed)
        })
    }

    /// A gallery's tags, sorted by namespace and name.
    pub fn of_gallery(&self, public_id: &str) -> Result<Vec<GalleryTag>> {
        self.db.read(|c| {
            let row = c
                .query_opt(
                    "SELECT id, tag_ids FROM galleries WHERE public_id = ?",
                    &[Param::Text(public_id)],
                )?
                .ok_or_else(|| Error::GalleryNotFound(public_id.to_string()))?;
            let id = row.int(0)?;
            Ok(from_packed(c, &self.db.tag_cache, &[(id, row.blob(1)?)])?
                .remove(&id)
                .unwrap_or_default())
        })
    }

    /// Whether the tag exists (on a gallery, or in a relation).
    pub fn exists(&self, tag: &TagName) -> Result<bool> {
        self.db.read(|c| Ok(id_of(c, tag)?.is_some()))
    }

    /// Every tag with its id.
    pub fn all(&self) -> Result<Vec<(i64, TagName)>> {
        self.db.read(|c| {
            c.query("SELECT id, namespace, name FROM tags ORDER BY id", &[])?
                .iter()
                .map(|r| Ok((r.int(0)?, tag_at(r, 1)?)))
                .collect()
        })
    }

    /// Every tag with the number of galleries (not in the trash) that have it.
    pub fn counts(&self) -> Result<Vec<(TagName, u64)>> {
        self.db.read(|c| {
            let rows = c.query(
                "SELECT t.namespace, t.name, COUNT(g.id) FROM tags t \
                 LEFT JOIN gallery_tags gt ON gt.tag_id = t.id \
                 LEFT JOIN galleries g ON g.id = gt.gallery_id AND g.trashed_at IS NULL \
                 GROUP BY t.id, t.namespace, t.name ORDER BY t.namespace, t.name",
                &[],
            )?;
            rows.iter()
                .map(|r| Ok((tag_at(r, 0)?, r.int(2)? as u64)))
                .collect()
        })
    }

    /// Makes `alias` a sibling of `canonical`: searching the alias finds the canonical tag's
    /// galleries. Refused if it would make a cycle.
    pub fn set_sibling(&self, alias: &TagName, canonical: &TagName) -> Result<()> {
        if alias == canonical {
            return Err(Error::invalid("sibling", "a tag cannot be its own sibling"));
        }
        self.db.write(|c| {
            let ids = ensure_ids(c, &[alias.clone(), canonical.clone()])?;
            let (a, mut target) = (ids[alias], ids[canonical]);
            // Follow the canonical tag's own chain: it must not lead back to the alias.
            for _ in 0..64 {
                if target == a {
                    return Err(Error::invalid(
                        "sibling",
                        format!("{canonical} already leads to {alias}"),
                    ));
                }
                match c.query_opt(
                    "SELECT canonical_id FROM tag_siblings WHERE alias_id = ?",
                    &[Param::Int(target)],
                )? {
                    Some(r) => target = r.int(0)?,
                    None => break,
                }
            }
            c.exec(
                "DELETE FROM tag_siblings WHERE alias_id = ?",
                &[Param::Int(a)],
            )?;
            c.exec(
                "INSERT INTO tag_siblings (alias_id, canonical_id) VALUES (?, ?)",
                &[Param::Int(a), Param::Int(ids[canonical])],
            )?;
            record_change(c, TAG_RULES_GALLERY, ChangeKind::TagRules)
        })
    }

    /// Removes `alias`'s sibling link; answers whether it had one.
    pub fn remove_sibling(&self, alias: &TagName) -> Result<bool> {
        self.db.write(|c| {
            let Some(a) = id_of(c, alias)? else {
                return Ok(false);
            };
            let removed = c.exec(
                "DELETE FROM tag_siblings WHERE alias_id = ?",
                &[Param::Int(a)],
            )? > 0;
            if removed {
                record_change(c, TAG_RULES_GALLERY, ChangeKind::TagRules)?;
            }
            Ok(removed)
        })
    }

    /// The tag `tag` stands for, following sibling links to the end.
    pub fn canonical(&self, tag: &TagName) -> Result<TagName> {
        self.db.read(|c| {
            let Some(mut id) = id_of(c, tag)? else {
                return Ok(tag.clone());
            };
            for _ in 0..64 {
                match c.query_opt(
                    "SELECT canonical_id FROM tag_siblings WHERE alias_id = ?",
                    &[Param::Int(id)],
                )? {
                    Some(r) => id = r.int(0)?,
                    None => break,
                }
            }
            name_of(c, id)
        })
    }

    /// Every sibling link, (alias, canonical).
    pub fn siblings(&self) -> Result<Vec<(TagName, TagName)>> {
        self.db.read(|c| {
            let rows = c.query(
                "SELECT a.namespace, a.name, b.namespace, b.name FROM tag_siblings s \
                 JOIN tags a ON a.id = s.alias_id JOIN tags b ON b.id = s.canonical_id ORDER BY a.namespace, a.name",
                &[],
            )?;
            rows.iter()
                .map(|r| Ok((tag_at(r, 0)?, tag_at(r, 2)?)))
                .collect()
        })
    }

    /// Makes `parent` implied by `child`. Refused if it would make a cycle.
    pub fn add_parent(&self, child: &TagName, parent: &TagName) -> Result<()> {
        if child == parent {
            return Err(Error::invalid("parent", "a tag cannot be its own parent"));
        }
        self.db.write(|c| {
            let ids = ensure_ids(c, &[child.clone(), parent.clone()])?;
            let (child_id, parent_id) = (ids[child], ids[parent]);
            // The parent's ancestors must not include the child.
            let mut frontier = vec![parent_id];
            let mut seen = std::collections::HashSet::new();
            while let Some(t) = frontier.pop() {
                if t == child_id {
                    return Err(Error::invalid(
                        "parent",
                        format!("{parent} already implies {child}"),
                    ));
                }
                if seen.insert(t) {
                    for r in c.query(
                        "SELECT parent_id FROM tag_parents WHERE child_id = ?",
                        &[Param::Int(t)],
                    )? {
                        frontier.push(r.int(0)?);
                    }
                }
            }
            c.exec(
                &format!(
                    "{} INTO tag_parents (child_id, parent_id) VALUES (?, ?)",
                    c.dialect().insert_ignore()
                ),
                &[Param::Int(child_id), Param::Int(parent_id)],
            )?;
            record_change(c, TAG_RULES_GALLERY, ChangeKind::TagRules)
        })
    }

    /// Removes a parent link; answers whether it existed.
    pub fn remove_parent(&self, child: &TagName, parent: &TagName) -> Result<bool> {
        self.db.write(|c| {
            let (Some(a), Some(b)) = (id_of(c, child)?, id_of(c, parent)?) else {
                return Ok(false);
            };
            let removed = c.exec(
                "DELETE FROM tag_parents WHERE child_id = ? AND parent_id = ?",
                &[Param::Int(a), Param::Int(b)],
            )? > 0;
            if removed {
                record_change(c, TAG_RULES_GALLERY, ChangeKind::TagRules)?;
            }
            Ok(removed)
        })
    }

    /// Every parent link, (child, parent).
    pub fn parents(&self) -> Result<Vec<(TagName, TagName)>> {
        self.db.read(|c| {
            let rows = c.query(
                "SELECT a.namespace, a.name, b.namespace, b.name FROM tag_parents p \
                 JOIN tags a ON a.id = p.child_id JOIN tags b ON b.id = p.parent_id ORDER BY a.namespace, a.name, b.namespace, b.name",
                &[],
            )?;
            rows.iter()
                .map(|r| Ok((tag_at(r, 0)?, tag_at(r, 2)?)))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_normalised_and_checked() {
        let t = TagName::parse("  Artist :  Some   Name ").unwrap();
        assert_eq!(
            (t.namespace.as_str(), t.name.as_str()),
            ("artist", "some name")
        );
        assert_eq!(t.to_string(), "artist:some name");
        assert_eq!(TagName::parse("plain").unwrap().namespace, "");
        assert_eq!(TagName::parse("re:zero").unwrap().to_string(), "re:zero");
        assert_eq!(
            TagName::parse("title: with a colon").unwrap().namespace,
            "title"
        );
        assert_eq!(TagName::parse("two words: x").unwrap().namespace, "");
        assert!(TagName::parse("artist:").is_err());
        assert!(TagName::parse("a\0b").is_err());
        assert!(TagName::parse(&"x".repeat(300)).is_err());
        assert_eq!(
            TagName::parse_list("artist:x, language:japanese,, ")
                .unwrap()
                .len(),
            2
        );
        assert_eq!(TagName::parse("ÉCOLE").unwrap().name, "école");
    }
}

#[cfg(test)]
mod packed_tests {
    use super::*;

    #[test]
    fn packed_tag_lists_round_trip() {
        let links = vec![(5, 1), (1_000_000_007, 2), (3, 0), (5, 3)];
        let unpacked = unpack_tag_ids(&pack_tag_ids(&links)).unwrap();
        assert_eq!(
            unpacked,
            vec![
                (3, TagSource::User),
                (5, TagSource::FileName),
                (1_000_000_007, TagSource::Sidecar)
            ]
        );
        assert!(unpack_tag_ids(&[]).is_err());
        assert!(unpack_tag_ids(&[1, 5, 0x80]).is_err());
    }
}
