//! Images: references, the content-addressed store, layers and archives.
//!
//! The runtime needs only [`store::Store::resolve_image`], which yields an [`Image`]: its ID, its
//! config and the unpacked layer directories, lowest first, ready to be overlay lower dirs.

pub mod archive;
pub mod digest;
pub mod layer;
pub mod reference;
pub mod store;
pub mod tarstream;
pub mod units;

use std::path::PathBuf;

/// An image in the store, ready to run.
// Built by `resolve_image`, whose caller (`run`) lands separately.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Debug, Clone)]
pub struct Image {
    /// The config digest, `sha256:<64 hex>` (what Docker calls the image ID).
    pub id: String,
    /// Tags in Docker's familiar form (`busybox:latest`, `localhost:5000/app:1`).
    pub repo_tags: Vec<String>,
    /// The image config (Env, Cmd, Entrypoint, WorkingDir, User, …).
    pub config: oci_spec::image::ImageConfiguration,
    /// Unpacked layer directories, lowest (base) first; whiteouts already in overlay's form.
    pub layer_dirs: Vec<PathBuf>,
}
