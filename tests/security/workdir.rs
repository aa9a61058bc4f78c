//! CVE-2024-21626 class: a working directory that leads through a leaked descriptor.
