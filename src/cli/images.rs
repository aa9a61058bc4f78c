//! `berth images` and `berth image inspect`: flags.

use clap::Args;

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    pub all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Only images of this repository (and tag)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Images to inspect: name[:tag], name@digest, ID or unique ID prefix
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}
