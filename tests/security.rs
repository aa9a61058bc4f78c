//! The security regression suite: each test performs one attack that a hostile image or a
//! hostile container could try, named after the class it defends (a CVE where there is one),
//! and asserts that the host stays out of reach. The attacks live in tests/security/, one file
//! per area; the README's Security section lists them.

#[path = "common/archive.rs"]
mod archive;
mod common;
#[path = "common/layer_tar.rs"]
mod layer_tar;
#[path = "common/running.rs"]
mod running;

#[path = "security/confinement.rs"]
mod confinement;
#[path = "security/copyup.rs"]
mod copyup;
#[path = "security/cp.rs"]
mod cp;
#[path = "security/devices.rs"]
mod devices;
#[path = "security/exe.rs"]
mod exe;
#[path = "security/inputs.rs"]
mod inputs;
#[path = "security/layers.rs"]
mod layers;
#[path = "security/rm.rs"]
mod rm;
#[path = "security/sparse.rs"]
mod sparse;
#[path = "security/store.rs"]
mod store;
#[path = "security/workdir.rs"]
mod workdir;
