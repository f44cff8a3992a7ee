//! LittlePanda's configuration: one serde struct, filled from defaults, then a TOML file, then
//! environment variables, then command-line flags. `littlepanda.example.toml` documents every key.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// Everything that can be configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the server listens on.
    pub listen: SocketAddr,
    pub store: StoreConfig,
    pub server: ServerSection,
    pub database: DatabaseConfig,
    pub import: ImportSection,
    pub thumbnails: ThumbnailSection,
    pub auth: AuthSection,
}

/// Accounts and sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSection {
    /// Lets visitors who are not signed in browse, search and read (never change anything).
    pub anonymous_read: bool,
    /// A session unused for this many days ends.
    pub session_idle_days: u32,
    /// Reverse proxies (addresses) whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for AuthSection {
    fn default() -> Self {
        Self {
            anonymous_read: false,
            session_idle_days: 30,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Importing archives and folders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportSection {
    /// Most one gallery may expand to.
    pub max_total_size: ByteSize,
    /// Most an archive may expand, as a multiple of its size (zip bombs).
    pub max_ratio: u64,
    /// The largest page.
    pub max_page_size: ByteSize,
    /// Most entries in one archive.
    pub max_entries: usize,
    /// A folder watched by `serve`: archives dropped there are imported once they stop growing.
    pub watch: Option<PathBuf>,
    /// Folders below which admins may import archives and folders already on the server's disk.
    pub roots: Vec<PathBuf>,
}

/// Thumbnails of covers and pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThumbnailSection {
    /// Width in pixels.
    pub width: u32,
    /// JPEG quality, 1 to 100.
    pub quality: u8,
    /// Images of more pixels are not thumbnailed (decompression bombs).
    pub max_pixels: u64,
}

impl Default for ImportSection {
    fn default() -> Self {
        let l = library::import::Limits::default();
        Self {
            max_total_size: ByteSize(l.max_total_bytes),
            max_ratio: l.max_ratio,
            max_page_size: ByteSize(l.max_page_bytes),
            max_entries: l.max_entries,
            watch: None,
            roots: Vec::new(),
        }
    }
}

impl Default for ThumbnailSection {
    fn default() -> Self {
        let t = library::import::ThumbConfig::default();
        Self {
            width: t.width,
            quality: t.quality,
            max_pixels: t.max_pixels,
        }
    }
}

/// The metadata database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `mysql://USER:PASSWORD@HOST:PORT/DATABASE`; empty means SQLite in the
    /// data directory.
    pub url: String,
}

/// The blob store (LittlePandaFS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// A volume file is sealed once it would grow past this.
    pub max_volume_size: ByteSize,
    /// Check every image's checksum on every read, even when it was checked before and is still
    /// in memory.
    pub verify_every_read: bool,
}

/// The HTTP layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// Largest raw blob accepted in one request body.
    pub max_upload_size: ByteSize,
    /// Largest archive uploaded for import (streamed to disk, never held in memory).
    pub max_archive_upload_size: ByteSize,
    /// PEM certificate chain and private key: serve HTTPS (both or neither).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            store: StoreConfig::default(),
            server: ServerSection::default(),
            database: DatabaseConfig::default(),
            import: ImportSection::default(),
            thumbnails: ThumbnailSection::default(),
            auth: AuthSection::default(),
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            max_volume_size: ByteSize(1 << 30),
            verify_every_read: false,
        }
    }
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            max_upload_size: ByteSize(256 << 20),
            max_archive_upload_size: ByteSize(8 << 30),
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// The file read when `--config` is not given.
pub fn default_path(data: &Path) -> PathBuf {
    data.join("littlepanda.toml")
}

impl Config {
    /// Defaults, then the TOML file (`explicit`, which must exist, or `<data>/littlepanda.toml` if
    /// it exists), then environment variables.
    pub fn load(data: &Path, explicit: Option<&Path>) -> anyhow::Result<Self> {
        let mut config = match explicit {
            Some(path) => Self::from_file(path)?,
            None if default_path(data).is_file() => Self::from_file(&default_path(data))?,
            None => Self::default(),
        };
        config.apply_env(|k| std::env::var(k).ok())?;
        Ok(config)
    }

    fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("in config {}", path.display()))
    }

    /// Overrides from `LITTLEPANDA_*` variables, read through `var`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        fn parse<T: FromStr>(name: &str, value: Option<String>, into: &mut T) -> anyhow::Result<()>
        where
            T::Err: fmt::Display,
        {
            if let Some(v) = value {
                *into = v
                    .parse()
                    .map_err(|e| anyhow::anyhow!("{name}={v:?}: {e}"))?;
            }
            Ok(())
        }
        parse(
            "LITTLEPANDA_LISTEN",
            var("LITTLEPANDA_LISTEN"),
            &mut self.listen,
        )?;
        parse(
            "LITTLEPANDA_STORE_MAX_VOLUME_SIZE",
            var("LITTLEPANDA_STORE_MAX_VOLUME_SIZE"),
            &mut self.store.max_volume_size,
        )?;
        if let Some(url) = var("LITTLEPANDA_DATABASE_URL") {
            self.database.url = url;
        }
        parse(
            "LITTLEPANDA_SERVER_MAX_UPLOAD_SIZE",
            var("LITTLEPANDA_SERVER_MAX_UPLOAD_SIZE"),
            &mut self.server.max_upload_size,
        )?;
        Ok(())
    }

    /// The database URL: the configured one, or SQLite in the data directory.
    pub fn database_url(&self, data: &Path) -> String {
        if self.database.url.is_empty() {
            format!("sqlite://{}", data.join("littlepanda.db").display())
        } else {
            self.database.url.clone()
        }
    }

    /// The store options this configuration asks for.
    pub fn import_limits(&self) -> library::import::Limits {
        library::import::Limits {
            max_total_bytes: self.import.max_total_size.0,
            max_ratio: self.import.max_ratio.max(1),
            max_page_bytes: self.import.max_page_size.0,
            max_entries: self.import.max_entries,
            ..library::import::Limits::default()
        }
    }

    pub fn thumbnail_config(&self) -> library::import::ThumbConfig {
        library::import::ThumbConfig {
            width: self.thumbnails.width.clamp(16, 4096),
            quality: self.thumbnails.quality.clamp(1, 100),
            max_pixels: self.thumbnails.max_pixels,
            ..library::import::ThumbConfig::default()
        }
    }

    pub fn store_options(&self) -> lpfs::Options {
        lpfs::Options {
            max_volume_bytes: self.store.max_volume_size.0,
            verify_every_read: self.store.verify_every_read,
        }
    }
}

/// A number of bytes, written as an integer or with a unit: `1048576`, `"512 KiB"`, `"1GiB"`,
/// `"100MB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let number: u64 = number
            .parse()
            .map_err(|_| format!("{s:?} is not a size like 512MiB"))?;
        let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" => 1000,
            "kib" | "k" => 1 << 10,
            "mb" => 1000 * 1000,
            "mib" | "m" => 1 << 20,
            "gb" => 1000 * 1000 * 1000,
            "gib" | "g" => 1 << 30,
            "tb" => 1000u64.pow(4),
            "tib" | "t" => 1 << 40,
            other => {
                return Err(format!(
                    "unknown size unit {other:?} (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)"
                ));
            }
        };
        number
            .checked_mul(factor)
            .map(ByteSize)
            .ok_or_else(|| format!("{s:?} is too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(&str, u64); 4] = [
            ("TiB", 1 << 40),
            ("GiB", 1 << 30),
            ("MiB", 1 << 20),
            ("KiB", 1 << 10),
        ];
        for (name, size) in UNITS {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{name}", self.0 / size);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(ByteSize(n)),
            Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Refuses settings that cannot work, with the reason.
pub fn validate(config: &Config) -> anyhow::Result<()> {
    if config.server.max_upload_size.0 > usize::MAX as u64 {
        bail!("server.max_upload_size is larger than this machine can address");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!("1GiB".parse(), Ok(ByteSize(1 << 30)));
        assert_eq!("512 KiB".parse(), Ok(ByteSize(512 << 10)));
        assert_eq!("100MB".parse(), Ok(ByteSize(100_000_000)));
        assert_eq!("42".parse(), Ok(ByteSize(42)));
        assert!("1 parsec".parse::<ByteSize>().is_err());
        assert!("99999999999999999999GiB".parse::<ByteSize>().is_err());
        assert!("".parse::<ByteSize>().is_err());
        assert_eq!(ByteSize(1 << 30).to_string(), "1GiB");
        assert_eq!(ByteSize(1000).to_string(), "1000B");
    }

    #[test]
    fn the_example_config_documents_the_defaults() {
        let text = include_str!("../../../littlepanda.example.toml");
        let parsed: Config = toml::from_str(text).expect("the example config parses");
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Config>("lisen = \"127.0.0.1:1\"").is_err());
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut c: Config = toml::from_str("listen = \"127.0.0.1:9000\"").unwrap();
        c.apply_env(|k| (k == "LITTLEPANDA_STORE_MAX_VOLUME_SIZE").then(|| "64MiB".to_string()))
            .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.store.max_volume_size, ByteSize(64 << 20));
        assert!(
            c.apply_env(|k| (k == "LITTLEPANDA_LISTEN").then(|| "nowhere".to_string()))
                .is_err()
        );
    }
}
