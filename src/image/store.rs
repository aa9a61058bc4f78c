//! The store (placeholder until the image store lands).

use super::Image;
use anyhow::Result;
use std::path::{Path, PathBuf};

pub struct Store {
    pub root: PathBuf,
}

impl Store {
    pub fn open(root: &Path) -> Result<Store> {
        Ok(Store { root: root.to_path_buf() })
    }

    pub fn resolve_image(&self, reference: &str) -> Result<Image> {
        Err(crate::error::NotFound::Image(reference.to_string()).into())
    }
}
