//! The tag tools: every tag with its count, renaming and merging, siblings (aliases) and parents.

use db::{Db, TagName};

use super::{Error, Result};

/// Tags whose `namespace:name` contains `needle` (all when it is empty), with how many galleries
/// outside the trash carry each, by namespace and name: the total, and the page asked for.
pub fn counts(
    db: &Db,
    needle: &str,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<(TagName, u64)>)> {
    let needle = needle.trim().to_lowercase();
    let matching: Vec<(TagName, u64)> = db
        .tags()
        .counts()?
        .into_iter()
        .filter(|(t, _)| needle.is_empty() || t.to_string().contains(&needle))
        .collect();
    let total = matching.len();
    Ok((
        total,
        matching.into_iter().skip(offset).take(limit).collect(),
    ))
}

/// Two tags in a relation: (alias, canonical) or (child, parent).
pub type Pair = (TagName, TagName);

/// Every sibling (alias, canonical) and parent (child, parent) pair.
pub fn relations(db: &Db) -> Result<(Vec<Pair>, Vec<Pair>)> {
    Ok((db.tags().siblings()?, db.tags().parents()?))
}

/// Renames `from` to `to` on every gallery, merging it into `to` when that exists; answers how
/// many galleries changed. A tag that does not exist is `TagNotFound`.
pub fn rename(db: &Db, from: &TagName, to: &TagName) -> Result<u64> {
    if !db.tags().exists(from)? {
        return Err(Error::TagNotFound(format!("no tag {from}")));
    }
    Ok(db.tags().rename(from, to)?)
}

/// Makes `alias` a sibling of `canonical`: searching the alias finds the canonical tag's
/// galleries. Refused if it would make a cycle.
pub fn set_sibling(db: &Db, alias: &TagName, canonical: &TagName) -> Result<()> {
    Ok(db.tags().set_sibling(alias, canonical)?)
}

/// Makes `alias` a tag of its own again.
pub fn remove_sibling(db: &Db, alias: &TagName) -> Result<()> {
    if db.tags().remove_sibling(alias)? {
        Ok(())
    } else {
        Err(Error::TagNotFound(format!("{alias} is no alias")))
    }
}

/// Makes `parent` a parent of `child`: searching the parent finds the child's galleries too.
pub fn add_parent(db: &Db, child: &TagName, parent: &TagName) -> Result<()> {
    Ok(db.tags().add_parent(child, parent)?)
}

/// Removes one parent of a tag.
pub fn remove_parent(db: &Db, child: &TagName, parent: &TagName) -> Result<()> {
    if db.tags().remove_parent(child, parent)? {
        Ok(())
    } else {
        Err(Error::TagNotFound(format!(
            "{parent} is no parent of {child}"
        )))
    }
}
