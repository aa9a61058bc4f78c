//! Containers: records, runtime spec, rootfs, processes.
